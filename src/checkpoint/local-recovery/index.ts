/** Local recovery: local copies of the latest completed checkpoint's state files, verified before a restore uses them. */
export {
  LOCAL_RECOVERY_DIRECTORY_DEFAULT,
  LocalRecoveryStore,
  type LocalRecoveryStoreOptions,
  type StateFileWriter,
} from './local-recovery-store.ts';
export { type LocalCopyVerdict, LocalStateReader } from './local-state-reader.ts';
