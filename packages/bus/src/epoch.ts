import { randomBytes } from 'node:crypto';

/** A fresh epoch: 8 random bytes, base64url (11 characters), valid for `isValidEpoch`. */
export function newEpoch(): string {
  return randomBytes(8).toString('base64url');
}
