/** Savepoint target directories a REST client might send to escape: each with a fragment of the expected refusal. */

/** Each payload with a fragment the refusal message must contain. */
export const TRAVERSAL_PAYLOADS: readonly (readonly [string, string])[] = [
  ['/tmp/sp/../../etc', "'..' segment"],
  ['..', "'..' segment"],
  ['/tmp/..%2f..%2fetc', "'..' segment"],
  ['/tmp/..%2F..%2Fetc', "'..' segment"],
  ['/tmp/%2e%2e/etc', "'..' segment"],
  ['/tmp/%2E%2E%2fetc', "'..' segment"],
  ['/tmp/.%2e/etc', "'..' segment"],
  ['/tmp/..%252f..%252fetc', 'percent-encoded more than once'],
  ['/tmp/%252e%252e/etc', 'percent-encoded more than once'],
  ['/tmp/%2fetc', 'percent-encoded characters are not accepted'],
  ['/tmp/sp%20dir', 'percent-encoded characters are not accepted'],
  ['/tmp/..\\..\\etc', 'backslash'],
  ['/tmp/sp%5c..%5cetc', 'backslash'],
  ['/tmp/sp\u0000/etc', 'NUL byte'],
  ['/tmp/sp%00/etc', 'NUL byte'],
  ['/tmp/sp\n/etc', 'control characters'],
  ['/tmp/%zz', 'malformed percent-encoding'],
  ['relative/dir', 'absolute path'],
  ['', 'must not be empty'],
];
