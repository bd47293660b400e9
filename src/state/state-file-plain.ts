/**
 * Version-2 state files: plain JSON, as releases before state version 3 wrote them. They are
 * still read, so that their backups restore and their chains go on; they are never written.
 *
 * The text is `JSON.stringify` of the state (no spaces) with one more last field, `digest`:
 * the xxHash64 of the text before it with `}` in place of `,"digest":…`, in the file's last
 * 29 bytes. A read holds the file, its text and two copies of the parsed state for the time
 * of the check: about 1.3 KB per entry at the peak (130 MB for 100,000 files).
 */
import { hashChunks } from '../tree/content-hash.js';
import { StateProblem } from './problem.js';
import { checkExpected, type ExpectedState } from './state-assembly.js';
import { STATE_VERSION_PLAIN, type BackupState } from './schema.js';
import { checkState } from './validate.js';

/** The length of `,"digest":"` + 16 hex digits + `"}`: where a plain state file's digest is. */
export const PLAIN_TAIL_LENGTH = 29;
const TAIL = /^,"digest":"([0-9a-f]{16})"\}$/;
const CLOSE = Buffer.from('}');

/** The digest in `tail`, a plain state file's last bytes, or undefined when they hold none. */
export function plainDigest(tail: Buffer): string | undefined {
  const m = tail.length < PLAIN_TAIL_LENGTH ? null : TAIL.exec(tail.toString('latin1', tail.length - PLAIN_TAIL_LENGTH));
  return m?.[1];
}

/**
 * The state in the bytes of a plain state file, checked: its digest, its JSON, the version-2
 * schema and rules, and that it is backup `expect.id` of name `expect.name`. Throws
 * {@link StateProblem}.
 */
export async function parsePlainState(bytes: Buffer, expect: ExpectedState): Promise<{ state: BackupState; digest: string }> {
  const digest = plainDigest(bytes);
  if (digest === undefined) throw new StateProblem('it is truncated or has no digest');
  const body = bytes.subarray(0, bytes.length - PLAIN_TAIL_LENGTH);
  if ((await hashChunks([body, CLOSE])) !== digest) throw new StateProblem('its digest does not match its content (the file is damaged)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    throw new StateProblem('it is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(`${text}}`);
  } catch (e) {
    throw new StateProblem(`it is not valid JSON (${(e as Error).message})`);
  }
  const checked = checkState(value, STATE_VERSION_PLAIN);
  if (!checked.ok) throw new StateProblem(checked.problem);
  checkExpected(checked.state, expect);
  return { state: checked.state, digest };
}
