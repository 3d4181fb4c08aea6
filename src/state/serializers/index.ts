/** State serializers: the contract, the default value serializer and simple pluggable ones. */

export { fromBytes, toBytes } from './serialize-to-bytes.ts';
export { jsonSerializer, numberSerializer, stringSerializer } from './simple-serializers.ts';
export type { TypeSerializer } from './type-serializer.ts';
export { copyValue, UnsupportedValueError, VALUE_DEPTH_MAX, valueSerializer } from './value-serializer.ts';
