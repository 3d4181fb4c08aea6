/** Savepoint target directories from REST bodies: traversal payloads (Flink CVE-2020-17518/17519 style) are refused, plain paths accepted. */
import { describe, expect, it } from 'vitest';
import { validateTargetDirectory } from '../../../src/cluster/rest/target-directory.ts';
import { TRAVERSAL_PAYLOADS } from './payloads.ts';

describe('validateTargetDirectory', () => {
  it.each(TRAVERSAL_PAYLOADS)('refuses %j', (payload, fragment) => {
    const check = validateTargetDirectory(payload);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.message).toContain(fragment);
  });

  it.each([[42], [null], [['/tmp']], [{ path: '/tmp' }]])('refuses the non-string %j', (value) => {
    expect(validateTargetDirectory(value)).toEqual({
      ok: false,
      message: 'target directory must be a string',
    });
  });

  it('refuses overlong paths', () => {
    expect(validateTargetDirectory(`/${'a'.repeat(5000)}`).ok).toBe(false);
  });

  it.each([
    ['/var/savepoints', '/var/savepoints'],
    ['/var/savepoints/', '/var/savepoints'],
    ['/var/./savepoints', '/var/savepoints'],
    ['/var//savepoints', '/var/savepoints'],
    ['/var/save..points', '/var/save..points'],
    ['/var/...', '/var/...'],
  ])('accepts the plain absolute path %j as %j', (payload, path) => {
    expect(validateTargetDirectory(payload)).toEqual({ ok: true, path });
  });

  describe('with a savepoint root', () => {
    const savepointRoot = '/srv/savepoints';

    it('resolves relative paths against the root', () => {
      expect(validateTargetDirectory('nightly/monday', { savepointRoot })).toEqual({
        ok: true,
        path: '/srv/savepoints/nightly/monday',
      });
    });

    it('accepts absolute paths inside the root, the root itself included', () => {
      expect(validateTargetDirectory('/srv/savepoints/a', { savepointRoot })).toEqual({
        ok: true,
        path: '/srv/savepoints/a',
      });
      expect(validateTargetDirectory('/srv/savepoints', { savepointRoot }).ok).toBe(true);
    });

    it.each(['/srv/other', '/srv/savepoints-evil', '/etc'])('refuses %j outside the root', (payload) => {
      const check = validateTargetDirectory(payload, { savepointRoot });
      expect(check).toEqual({
        ok: false,
        message: `target directory must lie inside the savepoint root ${savepointRoot}`,
      });
    });

    it.each(TRAVERSAL_PAYLOADS.filter(([payload]) => payload !== 'relative/dir'))(
      'still refuses %j',
      (payload) => {
        expect(validateTargetDirectory(payload, { savepointRoot }).ok).toBe(false);
      },
    );
  });
});
