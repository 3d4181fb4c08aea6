/** The REST API of a job manager: routes, server, client, and the validation they rely on. */
export { isRestId, newTriggerId } from './ids.ts';
export {
  isFinalStatus,
  JobRegistry,
  type RegisteredJob,
  type SavepointOperationKind,
  type SavepointOperationState,
} from './job-registry.ts';
export type {
  CheckpointStatisticsView,
  CheckpointView,
  JobDetailsView,
  OperationView,
} from './json-views.ts';
export { renderMetrics } from './metrics.ts';
export { createRestApp, REQUEST_BODY_BYTES_MAX, type RestAppOptions } from './rest-app.ts';
export { RestClient, RestRequestError } from './rest-client.ts';
export { REST_BIND_HOST, type RestServer, type RestServerOptions, startRestServer } from './rest-server.ts';
export { type TargetDirectoryCheck, validateTargetDirectory } from './target-directory.ts';
