/**
 * `ibt rdiff`: a drop-in for librsync's `rdiff`, so scripts can swap one for the other.
 *
 * Same actions and abbreviations (any prefix of signature/delta/patch), same options
 * (`-H`, `-R`, `-b`, `-S`, `-f`, `-s`, plus the accepted-and-ignored `-I`/`-O` buffer sizes),
 * `-` or a missing name for stdin/stdout, no overwrite without `-f`, and rdiff's exit codes
 * (src/rsync/README.md, section "Exit codes"): 0 ok, 100 I/O, 101 syntax, 103 input ended,
 * 104 bad magic, 106 corrupt, 108 parameter error. `--engine` (or `IBT_ENGINE`) picks the engine.
 */
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError, wrapIoError } from '../errors.js';
import type { EngineChoice } from '../engine/engine.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readFileChunks } from '../io/read-chunks.js';
import type { ByteSource, StrongSumKind, WeakSumKind } from '../rsync/index.js';

// The engines are imported when an action runs, and only the modules that action needs:
// node's own start-up is already most of the time of a small job, and of a patch.

const USAGE = `Usage: ibt rdiff [OPTIONS] signature [BASIS [SIGNATURE]]
                 [OPTIONS] delta SIGNATURE [NEWFILE [DELTA]]
                 [OPTIONS] patch BASIS [DELTA [NEWFILE]]

Options:
  -v, --verbose             Trace internal processing (accepted, no effect)
  -V, --version             Show program version
  -?, --help                Show this help message
  -s, --statistics          Show performance statistics
  -f, --force               Force overwriting existing files
Signature generation options:
  -H, --hash=ALG            Hash algorithm: blake2 (default), md4
  -R, --rollsum=ALG         Rollsum algorithm: rabinkarp (default), rollsum
Delta-encoding options:
  -b, --block-size=BYTES    Signature block size, 0 (default) for recommended
  -S, --sum-size=BYTES      Signature strength, 0 (default) for max, -1 for min
IO options:
  -I, --input-size=BYTES    Input buffer size (accepted, no effect)
  -O, --output-size=BYTES   Output buffer size (accepted, no effect)
Engine:
  --engine=auto|js|native   Which engine runs (default: $IBT_ENGINE, else auto)
`;

interface RdiffArgs {
  force: boolean;
  stats: boolean;
  hash: StrongSumKind;
  rollsum: WeakSumKind;
  blockLength: number;
  strongLength: number;
  engine?: EngineChoice;
  positional: string[];
  help: boolean;
  version: boolean;
}

const WITH_VALUE: Record<string, string> = {
  H: 'hash',
  R: 'rollsum',
  b: 'block-size',
  S: 'sum-size',
  I: 'input-size',
  O: 'output-size',
};
const FLAGS: Record<string, string> = { v: 'verbose', V: 'version', '?': 'help', h: 'help', s: 'statistics', f: 'force' };

function syntax(message: string): BackupError {
  return new BackupError('ESYNTAX', message);
}

function parseInteger(name: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw syntax(`bad number for --${name}: ${JSON.stringify(value)}`);
  return Number(value);
}

/** Parse rdiff's command line (getopt style: bundled short flags, attached or separate values). */
export function parseRdiffArgs(argv: string[]): RdiffArgs {
  const args: RdiffArgs = {
    force: false,
    stats: false,
    hash: 'blake2',
    rollsum: 'rabinkarp',
    blockLength: 0,
    strongLength: 0,
    positional: [],
    help: false,
    version: false,
  };
  const set = (long: string, value?: string): void => {
    switch (long) {
      case 'force':
        args.force = true;
        return;
      case 'statistics':
        args.stats = true;
        return;
      case 'help':
        args.help = true;
        return;
      case 'version':
        args.version = true;
        return;
      case 'verbose':
      case 'input-size':
      case 'output-size':
        if (value !== undefined && long !== 'verbose') parseInteger(long, value);
        return;
      case 'hash':
        if (value !== 'blake2' && value !== 'md4') throw syntax(`unknown hash algorithm ${JSON.stringify(value)}`);
        args.hash = value;
        return;
      case 'rollsum':
        if (value !== 'rabinkarp' && value !== 'rollsum') throw syntax(`unknown rollsum algorithm ${JSON.stringify(value)}`);
        args.rollsum = value;
        return;
      case 'block-size':
        args.blockLength = parseInteger(long, value!);
        return;
      case 'sum-size':
        args.strongLength = parseInteger(long, value!);
        return;
      case 'engine':
        if (value !== 'auto' && value !== 'js' && value !== 'native') throw syntax(`--engine must be auto, js or native`);
        args.engine = value;
        return;
      default:
        throw syntax(`unknown option --${long}`);
    }
  };
  const longWithValue = new Set([...Object.values(WITH_VALUE), 'engine']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const long = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (longWithValue.has(long)) {
        const value = eq < 0 ? argv[++i] : a.slice(eq + 1);
        if (value === undefined) throw syntax(`--${long} needs a value`);
        set(long, value);
      } else {
        if (eq >= 0) throw syntax(`--${long} takes no value`);
        set(long);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k]!;
        if (WITH_VALUE[c]) {
          const value = k + 1 < a.length ? a.slice(k + 1) : argv[++i];
          if (value === undefined) throw syntax(`-${c} needs a value`);
          set(WITH_VALUE[c]!, value);
          break;
        }
        if (!FLAGS[c]) throw syntax(`unknown option -${c}`);
        set(FLAGS[c]!);
      }
    } else {
      args.positional.push(a);
    }
  }
  return args;
}

function isStdio(name: string | undefined): boolean {
  return name === undefined || name === '-';
}

function input(name: string | undefined): ByteSource {
  return isStdio(name) ? (process.stdin as AsyncIterable<Uint8Array>) : readFileChunks(name!, { reuse: true });
}

async function output(name: string | undefined, data: AsyncIterable<Uint8Array>, force: boolean): Promise<void> {
  if (isStdio(name)) {
    await pipeline(Readable.from(data, { objectMode: false }), process.stdout, { end: false });
    return;
  }
  await writeFileAtomic(name!, data, { overwrite: force, durable: false });
}

function action(word: string | undefined): 'signature' | 'delta' | 'patch' {
  if (word) {
    for (const a of ['signature', 'delta', 'patch'] as const) if (a.startsWith(word)) return a;
  }
  throw syntax(word === undefined ? 'you must specify an action: signature, delta or patch' : `unknown action ${JSON.stringify(word)}`);
}

async function regularFileSize(name: string | undefined): Promise<number> {
  if (isStdio(name)) return -1;
  try {
    const st = await stat(name!);
    return st.isFile() ? st.size : -1;
  } catch (e) {
    throw wrapIoError(e, name!, 'opening');
  }
}

async function run(args: RdiffArgs): Promise<void> {
  const [word, ...files] = args.positional;
  const act = action(word);
  const limits = { signature: [0, 2], delta: [1, 3], patch: [1, 3] }[act];
  if (files.length < limits[0]! || files.length > limits[1]!) {
    throw syntax(`wrong number of arguments for ${act}`);
  }
  const { selectEngine } = await import('../engine/select.js');
  const engine = selectEngine(args.engine, act);
  const started = process.hrtime.bigint();
  if (act === 'signature') {
    const [basis, sig] = files;
    const fileSize = await regularFileSize(basis);
    const options = { weak: args.rollsum, strong: args.hash, blockLength: args.blockLength, strongLength: args.strongLength, fileSize };
    if (isStdio(basis)) {
      await output(sig, engine.signature(input(basis), options), args.force);
    } else {
      // A named basis is read by the addon itself under the native engine.
      const { signatureOfPath } = await import('../engine/file-signature.js');
      await output(sig, signatureOfPath(engine, basis!, options), args.force);
    }
  } else if (act === 'delta') {
    const [sig, newFile, deltaName] = files;
    if (isStdio(sig) && isStdio(newFile)) throw syntax('the signature and the new file cannot both be standard input');
    await output(deltaName, engine.delta(input(sig), input(newFile)), args.force);
  } else {
    const [basisName, deltaName, newFile] = files;
    if (isStdio(basisName)) throw syntax('the basis must be a file: patch reads it at random positions');
    if (!isStdio(newFile)) {
      // File to file: COPYs are copied inside the kernel where the addon is built.
      const { patchToFile } = await import('../engine/file-patch.js');
      const deltaLabel = isStdio(deltaName) ? {} : { deltaName };
      await patchToFile(basisName!, input(deltaName), newFile!, { overwrite: args.force, engine: args.engine, ...deltaLabel });
      return stats(args, act, engine.name, started);
    }
    const basis = await open(basisName!, 'r').catch((e) => {
      throw wrapIoError(e, basisName!, 'opening');
    });
    try {
      await output(newFile, engine.patch(basis, input(deltaName)), args.force);
    } finally {
      await basis.close();
    }
  }
  stats(args, act, engine.name, started);
}

/** `-s`: what ran and how long it took, on standard error. */
function stats(args: RdiffArgs, act: string, engine: string, started: bigint): void {
  if (!args.stats) return;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stderr.write(`ibt rdiff: ${act} with the ${engine} engine in ${ms.toFixed(1)} ms\n`);
}

/** Run `ibt rdiff` with its arguments; resolves to rdiff's exit code. */
export async function runRdiff(argv: string[]): Promise<number> {
  try {
    const args = parseRdiffArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.version) {
      process.stdout.write('ibt rdiff (incremental-backups-tools), compatible with librsync 2.3.2\n');
      return 0;
    }
    await run(args);
    return 0;
  } catch (e) {
    if (e instanceof BackupError) {
      process.stderr.write(`ibt rdiff: ${e.message}\n`);
      if (e.code === 'ESYNTAX') process.stderr.write(`Try 'ibt rdiff --help' for more information.\n`);
      return e.exitCode;
    }
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'EPIPE') return 100;
    throw e;
  }
}
