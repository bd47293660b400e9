/**
 * State files of any JSON object, sealed with a correct digest in the documented formats.
 * Tests of hostile states need them: the library's own writer refuses to write an invalid
 * state. Written here from the format's description (not with the library's writer), so a
 * test that compares the two checks the writer against the format.
 *
 * Version 3 (`seal`): the text laid out one list element per line (`warnings` and `entries`,
 * when they are arrays), the fields in the object's own order; gzip, the body deflated (level
 * 1, as the library does) up to the `]` that closes the entries, the rest stored, then the
 * 52-byte seal of the digest.
 * Version 2 (`sealPlain`): the JSON text with its digest as the last field.
 */
import { gzipSync } from 'node:zlib';
import { hashChunks } from '../../src/tree/index.js';

const LISTS = new Set(['warnings', 'entries']);

/** The bytes of a version-3 state file holding `value`, laid out as a state is, with a correct digest. */
export async function seal(value: object): Promise<Buffer> {
  let text = '{';
  let cut: number | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    text += `${text === '{' ? '' : ','}${JSON.stringify(key)}:`;
    if (LISTS.has(key) && Array.isArray(v)) {
      text += `[\n${v.map((item) => JSON.stringify(item)).join(',\n')}${v.length > 0 ? '\n' : ''}`;
      if (key === 'entries') cut = text.length;
      text += ']';
    } else text += JSON.stringify(v);
  }
  const digest = await hashChunks([Buffer.from(`${text}}`)]);
  const members = [gzipSync(text.slice(0, cut ?? text.length), { level: 1 })];
  if (cut !== undefined) members.push(gzipSync(text.slice(cut), { level: 0 }));
  members.push(gzipSync(`,"digest":"${digest}"}`, { level: 0 }));
  return Buffer.concat(members);
}

/** The bytes of a version-2 (plain JSON) state file holding `value`, with a correct digest. */
export async function sealPlain(value: unknown): Promise<Buffer> {
  const body = JSON.stringify(value);
  const digest = await hashChunks([Buffer.from(body)]);
  return Buffer.from(`${body.slice(0, -1)},"digest":"${digest}"}`);
}

/**
 * The bytes of a version-3 state file whose text before its digest is `text` (a document
 * without its closing `}`, laid out as a state or not), deflated in one member, sealed with
 * `digest` (by default the correct one: of `text` and `}`).
 */
export async function sealText(text: string | Buffer, digest?: string): Promise<Buffer> {
  const bytes = Buffer.from(text);
  const sealed = digest ?? (await hashChunks([bytes, Buffer.from('}')]));
  return Buffer.concat([gzipSync(bytes, { level: 1 }), gzipSync(`,"digest":"${sealed}"}`, { level: 0 })]);
}
