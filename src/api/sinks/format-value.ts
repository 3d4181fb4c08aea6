/** The default text form of a record for the text sinks: strings as they are, objects as JSON. */

// `JSON.rawJSON` (Node.js 21+) lets a bigint print as a JSON number rather than a quoted string.
const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

function bigintReplacer(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return rawJSON === undefined ? value.toString() : rawJSON(value.toString());
}

/**
 * Formats a record as one line of text: objects and arrays as JSON (bigints as numbers), anything
 * else through `String`.
 *
 * @example
 * ```ts
 * formatValue({ id: 7n, name: 'x' }); // '{"id":7,"name":"x"}'
 * formatValue(42); // '42'
 * ```
 */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value, bigintReplacer);
  return String(value);
}
