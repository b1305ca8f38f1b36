import { describe, expect, it } from 'vitest';
import { normalizeEmail } from './email.js';

describe('normalizeEmail', () => {
  it('lowercases the whole address', () => {
    expect(normalizeEmail('Bob.Smith@Example.COM')).toEqual({
      ok: true,
      email: 'bob.smith@example.com',
    });
  });

  it('keeps characters the RFC allows before the @, SQL metacharacters included', () => {
    expect(normalizeEmail("o'brien+test@example.io")).toEqual({
      ok: true,
      email: "o'brien+test@example.io",
    });
  });

  it('stores an internationalised domain as punycode and warns about look-alikes', () => {
    const result = normalizeEmail('anne@exämple.com');
    expect(result).toMatchObject({ ok: true, email: 'anne@xn--exmple-cua.com' });
    expect(result.ok && result.warning).toMatch(/look-alike/);
    // Cyrillic "а" in "аpple.com" is not the Latin "a".
    expect(normalizeEmail('x@аpple.com')).toMatchObject({ ok: true, email: 'x@xn--pple-43d.com' });
  });

  it('refuses a non-ASCII part before the @', () => {
    expect(normalizeEmail('andré@example.com')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ASCII/),
    });
  });

  it.each([
    'plain',
    '@example.com',
    'a@',
    'a@localhost',
    'a..b@example.com',
    'a@exa_mple.com',
    'a@example.123',
    'a@-x.com',
  ])('refuses %s', (input) => {
    expect(normalizeEmail(input).ok).toBe(false);
  });
});
