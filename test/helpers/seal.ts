/**
 * A state file of any JSON value, sealed with a correct digest in the documented format (the
 * last field, `digest`, is the xxHash64 of the text before it with `}` in its place). Tests of
 * hostile states need it: the library's own serializer refuses to write an invalid state.
 */
import { hashChunks } from '../../src/tree/index.js';

/** The bytes of a state file holding `value`, with a correct digest. */
export async function seal(value: unknown): Promise<Buffer> {
  const body = JSON.stringify(value);
  const digest = await hashChunks([Buffer.from(body)]);
  return Buffer.from(`${body.slice(0, -1)},"digest":"${digest}"}`);
}
