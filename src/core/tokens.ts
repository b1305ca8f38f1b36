/** Invitation tokens: 256 bits from the CSPRNG, shown once in an e-mail, stored only as a hash. */
import { createHash, randomBytes } from 'node:crypto';

/** A new token and the hash that is stored. */
export function newToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

/** The stored form of a token. A fast hash is right here: the token has 256 bits of entropy. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Whether a string has the shape of a token (43 base64url characters). */
export function looksLikeToken(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}
