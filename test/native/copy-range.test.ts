/**
 * `copyFileRange`: the addon's copy_file_range on the thread pool, which the file-to-file
 * patch uses for COPY commands. It copies at explicit offsets without moving either file's
 * position, reports a short count where the input ends, and fails like node's own calls, so
 * the caller can tell a refusal (EXDEV and kin: copy through memory) from an I/O error.
 */
import { statSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomData } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { describeNative } from './native.js';

const DATA = randomData(81, 3 << 20);

describeNative('native copyFileRange', ({ addon }) => {
  const dir = useTempDir();
  beforeAll(async () => {
    await writeFile(dir.file('in'), DATA);
  });

  it('copies a range to an offset of another file, leaving both file positions where they were', async () => {
    const input = await open(dir.file('in'), 'r');
    const output = await open(dir.file('out'), 'w+');
    try {
      await output.write(Uint8Array.of(7, 7, 7), 0, 3, null);
      const copied = await addon.copyFileRange(input.fd, 1000, output.fd, 10, 2 << 20);
      expect(copied).toBe(2 << 20);
      const { bytesRead } = await input.read(new Uint8Array(4), 0, 4, null);
      expect(bytesRead).toBe(4);
      await output.write(Uint8Array.of(9), 0, 1, null);
      const out = await readFile(dir.file('out'));
      expect(out.subarray(0, 4)).toEqual(Buffer.from([7, 7, 7, 9]));
      expect(out.subarray(4, 10)).toEqual(Buffer.alloc(6));
      expect(Buffer.compare(out.subarray(10), DATA.subarray(1000, 1000 + (2 << 20)))).toBe(0);
    } finally {
      await input.close();
      await output.close();
    }
  });

  it('copies fewer bytes where the input ends, and none past it', async () => {
    const input = await open(dir.file('in'), 'r');
    const output = await open(dir.file('short'), 'w');
    try {
      expect(await addon.copyFileRange(input.fd, DATA.length - 5, output.fd, 0, 100)).toBe(5);
      expect(await addon.copyFileRange(input.fd, DATA.length + 5, output.fd, 5, 100)).toBe(0);
      expect(await readFile(dir.file('short'))).toEqual(Buffer.from(DATA.subarray(DATA.length - 5)));
    } finally {
      await input.close();
      await output.close();
    }
  });

  it('a bad descriptor rejects with a node-style error', async () => {
    const input = await open(dir.file('in'), 'r');
    try {
      const e = (await addon.copyFileRange(input.fd, 0, 0x7fffff00, 0, 10).catch((x: unknown) => x)) as NodeJS.ErrnoException;
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe('EBADF');
      expect(e.syscall).toBe('copy_file_range');
      expect(e.errno).toBeLessThan(0);
    } finally {
      await input.close();
    }
  });

  it('refuses offsets and lengths that are not integers from 0 to 2^53 - 1', () => {
    expect(() => addon.copyFileRange(0, -1, 1, 0, 1)).toThrow(RangeError);
    expect(() => addon.copyFileRange(0, 0, 1, 0.5, 1)).toThrow(RangeError);
    expect(() => addon.copyFileRange(0, 0, 1, 0, 2 ** 53)).toThrow(RangeError);
    expect(() => addon.copyFileRange('0' as unknown as number, 0, 1, 0, 1)).toThrow(TypeError);
  });

  const shm = '/dev/shm';
  const otherFs = (() => {
    try {
      return statSync(shm).isDirectory() && statSync(shm).dev !== statSync(tmpdir()).dev;
    } catch {
      return false;
    }
  })();
  let shmDir = '';
  afterAll(async () => {
    if (shmDir) await rm(shmDir, { recursive: true, force: true });
  });

  it.runIf(otherFs)('between tmpfs and another file system: EXDEV, the refusal the patch copies around', async () => {
    shmDir = await mkdtemp(join(shm, 'ibt-test-'));
    await writeFile(join(shmDir, 'in'), DATA.subarray(0, 1000));
    const input = await open(join(shmDir, 'in'), 'r');
    const output = await open(dir.file('cross'), 'w');
    try {
      const e = (await addon.copyFileRange(input.fd, 0, output.fd, 0, 1000).catch((x: unknown) => x)) as NodeJS.ErrnoException;
      expect(e.code).toBe('EXDEV');
    } finally {
      await input.close();
      await output.close();
    }
  });
});
