// `ibt rdiff` must be swappable for rdiff in scripts: the same bytes, the same exit codes for
// the same failures, the same refusal to overwrite. Every case runs both programs on the
// same files and compares.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomData, scatteredOverwrites } from '../helpers/data.js';
import { onCi, requireTool, useTempDir } from '../helpers/tools.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const built = existsSync(CLI);
const rdiff = requireTool('rdiff');

it.runIf(onCi)('the CLI is built before the tests run on CI', () => {
  expect(built).toBe(true);
});

interface Run {
  status: number | null;
  stdout: Buffer;
}

function run(cmd: string, args: string[], cwd: string, input?: Uint8Array, env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(cmd, args, { cwd, input, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout };
}

const both = (args: string[], cwd: string, input?: Uint8Array, engine = 'js') => ({
  ours: run(process.execPath, [CLI, 'rdiff', '--engine', engine, ...args], cwd, input),
  theirs: run('rdiff', args, cwd, input),
});

describe.skipIf(!built || rdiff.skip)(`ibt rdiff against rdiff${built ? rdiff.note : ' (skipped: run npm run build first)'}`, () => {
  const dir = useTempDir();
  const f = (name: string) => join(dir.path, name);
  beforeAll(async () => {
    const basis = randomData(1, 300_000);
    await writeFile(f('basis'), basis);
    await writeFile(f('new'), scatteredOverwrites(basis, 2, 20));
    await writeFile(f('new-extended'), Buffer.concat([scatteredOverwrites(basis, 3, 5), randomData(4, 70_000)]));
  });

  const engines = ['js', 'native'];

  it.each([
    [['-H', 'md4', '-R', 'rollsum', '-b', '512', '-S', '8']],
    [['--hash=blake2', '--rollsum=rabinkarp', '--block-size=777', '--sum-size=-1']],
    [['-S', '-1', '-b1024']],
    [[]],
  ])('signature, delta and patch byte for byte with options %j, through files and through stdin/stdout', async (opts) => {
    for (const engine of engines) {
      if (engine === 'native' && !(await nativeBuilt())) continue;
      const sig = both(['-f', ...opts, 'signature', 'basis', 'x.sig'], dir.path, undefined, engine);
      expect([sig.ours.status, sig.theirs.status]).toEqual([0, 0]);
      const oursSig = await readFile(f('x.sig'));
      run('rdiff', ['-f', ...opts, 'sig', 'basis', 'y.sig'], dir.path);
      expect(oursSig.equals(await readFile(f('y.sig')))).toBe(true);
      const piped = both([...opts, 'sig', '-', '-'], dir.path, await readFile(f('basis')), engine);
      expect(piped.ours.status).toBe(0);
      expect(piped.ours.stdout.equals(piped.theirs.stdout)).toBe(true);
      for (const newFile of ['new', 'new-extended']) {
        const d = both(['del', 'y.sig', newFile, '-'], dir.path, undefined, engine);
        expect(d.ours.status).toBe(0);
        expect(d.ours.stdout.equals(d.theirs.stdout)).toBe(true);
        await writeFile(f('d'), d.ours.stdout);
        const p = both(['pat', 'basis', '-', '-'], dir.path, d.ours.stdout, engine);
        expect(p.ours.status).toBe(0);
        expect(p.ours.stdout.equals(await readFile(f(newFile)))).toBe(true);
      }
    }
  });

  // A named output is patched file to file (COPYs copied in the kernel where the addon is
  // built), not streamed: the same bytes as rdiff's, COPY-heavy deltas included.
  it('patch into a named file: the file rdiff writes, on every engine', async () => {
    const basis = await readFile(f('basis'));
    const next = Buffer.concat([basis.subarray(1000), randomData(5, 3000), basis.subarray(0, 200_000), basis.subarray(0, 64)]);
    await writeFile(f('copy-heavy'), next);
    run('rdiff', ['-f', 'signature', 'basis', 'ch.sig'], dir.path);
    run('rdiff', ['-f', 'delta', 'ch.sig', 'copy-heavy', 'ch.delta'], dir.path);
    expect(run('rdiff', ['-f', 'patch', 'basis', 'ch.delta', 'ch.theirs'], dir.path).status).toBe(0);
    for (const engine of [...engines, 'auto']) {
      if (engine === 'native' && !(await nativeBuilt())) continue;
      expect(run(process.execPath, [CLI, 'rdiff', '-f', '--engine', engine, 'patch', 'basis', 'ch.delta', 'ch.ours'], dir.path).status).toBe(0);
      expect((await readFile(f('ch.ours'))).equals(await readFile(f('ch.theirs')))).toBe(true);
      const piped = run(process.execPath, [CLI, 'rdiff', '-f', '--engine', engine, 'patch', 'basis', '-', 'ch.piped'], dir.path, await readFile(f('ch.delta')));
      expect(piped.status).toBe(0);
      expect((await readFile(f('ch.piped'))).equals(next)).toBe(true);
    }
  });

  // The addon is optional: a package without its build patches through memory under auto,
  // and refuses --engine native with the reason (exit 1) instead of failing some other way.
  it('without the native addon: patch works under auto, --engine native is refused', async () => {
    const pkg = join(dir.path, 'pkg');
    const root = join(import.meta.dirname, '../..');
    await mkdir(pkg);
    await cp(join(root, 'package.json'), join(pkg, 'package.json'));
    await cp(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    await symlink(join(root, 'node_modules'), join(pkg, 'node_modules'));
    const cli = join(pkg, 'dist/cli/main.js');
    run('rdiff', ['-f', 'signature', 'basis', 'nn.sig'], dir.path);
    run('rdiff', ['-f', 'delta', 'nn.sig', 'new', 'nn.delta'], dir.path);
    expect(run(process.execPath, [cli, 'rdiff', '-f', 'patch', 'basis', 'nn.delta', 'nn.out'], dir.path).status).toBe(0);
    expect((await readFile(f('nn.out'))).equals(await readFile(f('new')))).toBe(true);
    const refused = spawnSync(process.execPath, [cli, 'rdiff', '-f', '--engine', 'native', 'patch', 'basis', 'nn.delta', 'nn.never'], { cwd: dir.path, encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/not built.*npm run build:native/);
    expect(existsSync(f('nn.never'))).toBe(false);
  });

  it('refuses to overwrite without -f (exit 100) and overwrites with it', async () => {
    await writeFile(f('exists'), 'keep me');
    const r = both(['signature', 'basis', 'exists'], dir.path);
    expect([r.ours.status, r.theirs.status]).toEqual([100, 100]);
    expect(await readFile(f('exists'), 'utf8')).toBe('keep me');
    expect(run(process.execPath, [CLI, 'rdiff', '-f', 'signature', 'basis', 'exists'], dir.path).status).toBe(0);
  });

  const corrupt: [string, number[], string[]][] = [
    ['a delta cut inside a command', [0x72, 0x73, 0x02, 0x36, 0x45, 0x00], ['patch', 'basis', 'bad', 'out']],
    ['a delta with a bad magic', [0x72, 0x73, 0x01, 0x36, 0x00], ['patch', 'basis', 'bad', 'out']],
    ['a delta with a reserved opcode', [0x72, 0x73, 0x02, 0x36, 0x55, 0x00], ['patch', 'basis', 'bad', 'out']],
    ['a delta with a zero-length copy', [0x72, 0x73, 0x02, 0x36, 0x45, 0x00, 0x00, 0x00], ['patch', 'basis', 'bad', 'out']],
    ['a delta copying past the basis', [0x72, 0x73, 0x02, 0x36, 0x4d, 0x7f, 0x00, 0x00, 0x00, 0x10, 0x00], ['patch', 'basis', 'bad', 'out']],
    ['a signature with a bad magic', [0x72, 0x73, 0x02, 0x36, 0, 0, 1, 0, 0, 0, 0, 8], ['delta', 'bad', 'new', 'out']],
    ['a signature with block length 0', [0x72, 0x73, 0x01, 0x47, 0, 0, 0, 0, 0, 0, 0, 8], ['delta', 'bad', 'new', 'out']],
    ['an MD4 signature asking for 20-byte sums', [0x72, 0x73, 0x01, 0x46, 0, 0, 1, 0, 0, 0, 0, 20], ['delta', 'bad', 'new', 'out']],
    ['a signature cut inside its header', [0x72, 0x73, 0x01, 0x47, 0, 0], ['delta', 'bad', 'new', 'out']],
    // librsync checks the lengths before the magic: both faults at once are ECORRUPT.
    ['a signature with a bad magic and block length 0', [0x72, 0x73, 0x02, 0x36, 0, 0, 0, 0, 0, 0, 0, 8], ['delta', 'bad', 'new', 'out']],
    ['a signature with a bad magic and 40-byte sums', [0x72, 0x73, 0x02, 0x36, 0, 0, 1, 0, 0, 0, 0, 40], ['delta', 'bad', 'new', 'out']],
  ];
  it.each(corrupt)('%s: the same exit code as rdiff', async (_, bytes, args) => {
    await writeFile(f('bad'), Uint8Array.from(bytes));
    const r = both(['-f', ...args], dir.path);
    expect(r.theirs.status).toBeGreaterThanOrEqual(100);
    expect(r.ours.status).toBe(r.theirs.status);
  });

  it.each([
    [['frobnicate', 'basis']],
    [['-z', 'signature', 'basis']],
    [['signature', 'basis', 'x', 'y']],
    [['delta']],
    [[]],
  ])('bad usage %j exits 101 like rdiff', (args) => {
    const r = both(args, dir.path);
    expect(r.theirs.status).toBe(101);
    expect(r.ours.status).toBe(101);
  });

  it('a missing input file is an I/O error (exit 100), and a failed patch leaves no output file', () => {
    const r = both(['-f', 'signature', 'no-such-file', 'sig-out'], dir.path);
    expect([r.ours.status, r.theirs.status]).toEqual([100, 100]);
    const before = readdirSync(dir.path).sort();
    const ours = run(process.execPath, [CLI, 'rdiff', '-f', 'patch', 'basis', 'no-such-delta', 'never'], dir.path);
    expect(ours.status).toBe(100);
    expect(readdirSync(dir.path).sort()).toEqual(before);
  });
});

async function nativeBuilt(): Promise<boolean> {
  const { nativeAvailable } = await import('../../src/engine/select.js');
  if (!nativeAvailable() && onCi) throw new Error('the native engine must be built on CI (npm run build:native -- --strict)');
  return nativeAvailable();
}
