/**
 * The signature of a named file under the native engine: the addon reads and signs it in
 * ranges on the thread pool (`src/engine/file-signature.ts`). The ranges must join into the
 * bytes of one pass — whatever the size against the range and block lengths, the empty file
 * included — and a failed or abandoned signature must not leave a read running on a file
 * that is then closed.
 */
import { open, writeFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { signatureOfPath, signRanges } from '../../src/engine/file-signature.js';
import { jsEngine } from '../../src/engine/js-engine.js';
import { isBackupError } from '../../src/errors.js';
import type { NativeAddon } from '../../src/io/native-addon.js';
import { signatureParams } from '../../src/rsync/format.js';
import type { SignatureOptions } from '../../src/rsync/index.js';
import { sameBytes } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';
import { collect } from '../helpers/streams.js';
import { useTempDir } from '../helpers/tools.js';
import { describeNative } from './native.js';

const RANGE = 4 << 20;
const DATA = randomData(91, 3 * RANGE + 5000);

describeNative('native signature of a file, in ranges', ({ engine, addon }) => {
  const dir = useTempDir();

  const cases: [string, number, SignatureOptions][] = [
    ['empty', 0, {}],
    ['shorter than a block', 100, {}],
    ['exactly one range of whole blocks', RANGE, { blockLength: 2048 }],
    ['one byte past a range', RANGE + 1, { blockLength: 2048 }],
    ['several ranges and a short block', 3 * RANGE + 5000, {}],
    ['blocks longer than a range', 3 * RANGE + 5000, { blockLength: 5 << 20 }],
    ['blocks that do not divide a range, MD4 and rollsum', 2 * RANGE + 77, { blockLength: 3001, strong: 'md4', weak: 'rollsum', strongLength: 8 }],
  ];
  it.each(cases)('%s: the bytes of one pass', async (name, size, options) => {
    const path = dir.file(name.replace(/\W+/g, '-'));
    await writeFile(path, DATA.subarray(0, size));
    const expected = await collect(jsEngine.signature(DATA.subarray(0, size), { ...options, fileSize: size }));
    expect(sameBytes(await collect(signatureOfPath(engine, path, { ...options, fileSize: size })), expected)).toBe('same');
  });

  it('a missing file is EIO naming it', async () => {
    const e = await collect(signatureOfPath(engine, dir.file('missing'))).catch((x: unknown) => x);
    expect(isBackupError(e, 'EIO')).toBe(true);
    expect((e as Error).message).toContain(dir.file('missing'));
  });

  it('a directory is EIO naming it', async () => {
    const e = await collect(signatureOfPath(engine, dir.path, { fileSize: 0 })).catch((x: unknown) => x);
    expect(isBackupError(e, 'EIO'), String(e)).toBe(true);
    expect((e as Error).message).toContain(dir.path);
  });

  /**
   * The addon with the results of every range but the first held back until `release()`,
   * counting the calls not yet settled.
   */
  function held(): { addon: NativeAddon; running: () => number; release: () => void } {
    let running = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const wrapped: NativeAddon = Object.create(addon) as NativeAddon;
    wrapped.signatureOfRange = (fd, offset, ...rest) => {
      running++;
      const settle = async () => {
        if (offset > 0) await gate;
      };
      return addon
        .signatureOfRange(fd, offset, ...rest)
        .then(
          async (r) => (await settle(), r),
          async (e: unknown) => {
            await settle();
            throw e;
          },
        )
        .finally(() => running--);
    };
    return { addon: wrapped, running: () => running, release };
  }

  async function settled(p: Promise<unknown>): Promise<boolean> {
    let done = false;
    void p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return done;
  }

  // The caller closes the file as soon as the signature ends: a range still being read
  // would then read a closed descriptor, or another file that reused its number.
  it('abandoned after the first records, or failed, it ends only when no range read is running', async () => {
    const path = dir.file('abandoned');
    await writeFile(path, DATA);
    const params = signatureParams({ fileSize: DATA.length, blockLength: 1024 });
    const handle = await open(path, 'r');
    try {
      const h = held();
      const iterator = signRanges(h.addon, handle, path, params, DATA.length);
      expect((await iterator.next()).done).toBe(false);
      const closing = iterator.return(undefined);
      expect(await settled(closing)).toBe(false);
      h.release();
      await closing;
      expect(h.running()).toBe(0);
    } finally {
      await handle.close();
    }
    const folder = await open(dir.path, 'r');
    try {
      const h = held();
      const failing = collect(signRanges(h.addon, folder, dir.path, params, 64 << 20)).catch((x: unknown) => x);
      expect(await settled(failing)).toBe(false);
      h.release();
      expect(isBackupError(await failing, 'EIO')).toBe(true);
      expect(h.running()).toBe(0);
    } finally {
      await folder.close();
    }
  });

  it('signatureOfRange: a bad descriptor is a node-style error, a block length of 0 a RangeError', async () => {
    const { magic, strongLength } = signatureParams({ fileSize: 100 });
    const e = (await addon.signatureOfRange(0x7fffff00, 0, 100, magic, 2048, strongLength, {}).catch((x: unknown) => x)) as NodeJS.ErrnoException;
    expect(e.code).toBe('EBADF');
    expect(e.syscall).toBe('pread');
    expect(() => addon.signatureOfRange(0, 0, 100, magic, 0, strongLength, {})).toThrow(RangeError);
  });
});
