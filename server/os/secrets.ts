// Secrets from this machine's CSPRNG, and their comparison in constant time: the tabs' capability
// tokens (control server), and the secrets between the control server and a remote session
// process, which both ends check.
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A 256-bit capability token from the CSPRNG, as sent to the client (hex). */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** Constant-time comparison; a token of the wrong length is simply wrong. */
export function tokenMatches(expected: string, presented: string | null | undefined): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
