/** The contract every state serializer fulfils: versioned, binary, pluggable per descriptor. */
import type { BinaryReader, BinaryWriter } from '../../core/binary.ts';

/**
 * Turns values of type T into bytes and back. `id` and `version` are written into every
 * snapshot, so a restore can tell when the serializer changed incompatibly.
 */
export interface TypeSerializer<T> {
  /** Stable identifier, e.g. `weir.value` or a user's `my-app.order`. */
  readonly id: string;
  /** Bumped on any change to the binary format. */
  readonly version: number;
  serialize(value: T, out: BinaryWriter): void;
  deserialize(input: BinaryReader): T;
  /**
   * Whether this serializer can read bytes written by `(id, version)`; the default
   * is an exact match. A serializer that migrates old formats says so here.
   */
  canRead?(id: string, version: number): boolean;
}
