/**
 * The error a promise rejects with, for tests that check its code, path and message: the test
 * fails when the promise resolves instead, or rejects with anything but a {@link BackupError}
 * (a stray TypeError is a defect, not the refusal the test expects).
 */
import { expect } from 'vitest';
import { BackupError } from '../../src/errors.js';

/** The {@link BackupError} `p` rejects with. */
export async function failure(p: Promise<unknown>): Promise<BackupError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BackupError);
  return e as BackupError;
}
