/**
 * Running the real `rdiff`. Single runs report the exit code and output; batches run many
 * invocations from one shell script, because thousands of golden cases would otherwise
 * spend most of their time spawning processes from node.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ErrorCode } from '../../src/errors.js';

/**
 * rdiff's exit status for each engine error (`src/rsync/README.md` §2, §7, §8.1), written out
 * here rather than taken from src/errors.ts so the tests check that mapping instead of
 * repeating it.
 */
export const RDIFF_EXIT: Partial<Record<ErrorCode, number>> = { EIO: 100, ETRUNCATED: 103, EBADMAGIC: 104, ECORRUPT: 106, EPARAM: 108 };

/** The outcome of one rdiff run. */
export interface RdiffResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run `rdiff args…` in `cwd`, feeding `input` to its stdin when given. */
export function runRdiff(args: readonly string[], options: { cwd?: string; input?: Uint8Array } = {}): Promise<RdiffResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('rdiff', args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal) reject(new Error(`rdiff ${args.join(' ')} killed by ${signal}`));
      else resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  });
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Run every `rdiff` argument list in `cmds` (in order, in `dir`) from one shell script and
 * return their exit codes. Output files are overwritten (`-f` is added).
 */
export async function rdiffBatch(dir: string, cmds: readonly (readonly string[])[]): Promise<number[]> {
  if (cmds.length === 0) return [];
  const script = join(dir, `rdiff-batch-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.sh`);
  const lines = cmds.map((args) => `rdiff -f ${args.map(shellQuote).join(' ')} </dev/null >/dev/null 2>&1; echo $?`);
  await writeFile(script, lines.join('\n') + '\n');
  const result = await new Promise<string>((resolve, reject) => {
    const child = spawn('sh', [script], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rdiff batch script exited ${code}`))));
  });
  const codes = result.trim().split('\n').map(Number);
  if (codes.length !== cmds.length) throw new Error(`rdiff batch: ${cmds.length} commands but ${codes.length} exit codes`);
  return codes;
}
