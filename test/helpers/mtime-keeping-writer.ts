/**
 * A writer that keeps the mtime, as `touch -r`, `rsync --inplace -t` and VM tools do: a child
 * process rewrites a file front half then back half, each version one byte value throughout,
 * and after every write puts the old mtime back. Reading such a file while it runs gives torn
 * reads (old front, new back) whose size and mtime look unchanged: the case change detection
 * must not miss.
 */
import { spawn } from 'node:child_process';

/** The mtime the writer keeps putting back, in whole seconds so `utimes` sets it exactly. */
export const KEPT_MTIME = 1_600_000_000;

/** A running writer. */
export interface MtimeKeepingWriter {
  /** Stop it; resolves once it has exited (its last version is complete, or half written). */
  stop(): Promise<void>;
}

/** Start the writer on `file` of `size` bytes (even); resolves once it is writing. */
export async function startMtimeKeepingWriter(file: string, size: number): Promise<MtimeKeepingWriter> {
  const script = `
    const fs = require('node:fs');
    const [file, size, t] = process.argv.slice(1);
    const half = Number(size) / 2;
    const fd = fs.openSync(file, 'r+');
    const buf = Buffer.alloc(half);
    const deadline = Date.now() + 120000;
    process.stdout.write('writing\\n');
    for (let v = 1; Date.now() < deadline; v = v % 250 + 1) {
      buf.fill(v);
      fs.writeSync(fd, buf, 0, half, 0);
      fs.futimesSync(fd, Number(t), Number(t));
      fs.writeSync(fd, buf, 0, half, half);
      fs.futimesSync(fd, Number(t), Number(t));
    }`;
  const child = spawn(process.execPath, ['-e', script, file, String(size), String(KEPT_MTIME)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', () => reject(new Error('the writer exited before it started')));
  });
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}

/** True when `bytes` are not one byte value throughout: a torn read of the writer's file. */
export function isTorn(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.some((b) => b !== bytes[0]);
}
