/**
 * `ibt`'s command line, run as a user runs it (the built CLI in a child process): each
 * subcommand takes exactly its own options. The table below is the specification; the CLI's
 * definitions are not imported, so a definition that drifts from it fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, type CliRun } from '../helpers/cli.js';
import { onCi } from '../helpers/tools.js';

const ROOT = join(import.meta.dirname, '../..');
const built = existsSync(CLI);

const OPTIONS: Record<string, { operands: string[]; options: string[]; values: string[] }> = {
  init: { operands: [], options: ['repo', 'work-dir', 'json'], values: ['repo', 'work-dir'] },
  backup: {
    operands: ['SRC'],
    options: ['name', 'repo', 'work-dir', 'full', 'exclude', 'exclude-file', 'include', 'checksum', 'compression', 'strict', 'json', 'lock-timeout'],
    values: ['name', 'repo', 'work-dir', 'exclude', 'exclude-file', 'include', 'compression', 'lock-timeout'],
  },
  restore: {
    operands: ['NAME', 'TARGET'],
    options: ['at', 'repo', 'work-dir', 'overwrite', 'engine', 'concurrency', 'thaw-tier', 'wait-thaw', 'json'],
    values: ['at', 'repo', 'work-dir', 'engine', 'concurrency', 'thaw-tier'],
  },
  list: { operands: ['NAME'], options: ['repo', 'work-dir', 'json'], values: ['repo', 'work-dir'] },
  unlock: { operands: ['NAME'], options: ['repo', 'work-dir', 'all', 'json'], values: ['repo', 'work-dir'] },
};
const takesValue = new Set(Object.values(OPTIONS).flatMap((c) => c.values));
const allOptions = [...new Set(Object.values(OPTIONS).flatMap((c) => c.options))];

const ibt = (...args: string[]): Promise<CliRun> => runCli(args);

/** Run `jobs` two at a time (the machine has two cores and other suites run beside this one). */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += 2) out.push(...(await Promise.all(jobs.slice(i, i + 2).map((j) => j()))));
  return out;
}

const listed = (names: string[]) => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

it.runIf(onCi)('the CLI is built before the tests run on CI', () => {
  expect(built).toBe(true);
});

describe.skipIf(!built)(`ibt's options${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  it('regression: an option of another subcommand was silently ignored (backup --storage started a new chain); now it is refused, exit 101, naming the subcommands that take it', async () => {
    const cases = Object.entries(OPTIONS).flatMap(([cmd, spec]) =>
      allOptions
        .filter((o) => !spec.options.includes(o))
        .map((o) => {
          const takers = Object.keys(OPTIONS).filter((c) => OPTIONS[c]!.options.includes(o));
          const args = [cmd, ...spec.operands, `--${o}`, ...(takesValue.has(o) ? ['VALUE'] : [])];
          return { cmd, o, takers, args };
        }),
    );
    expect(cases.length).toBe(64);
    const runs = await inPairs(cases.map((c) => () => ibt(...c.args)));
    cases.forEach((c, i) => {
      const r = runs[i]!;
      const verb = c.takers.length === 1 ? 'takes' : 'take';
      expect({ args: c.args, status: r.status, first: r.stderr.split('\n')[0] }).toEqual({
        args: c.args,
        status: 101,
        first: `ibt ${c.cmd}: --${c.o} is not an option of ${c.cmd} (${listed(c.takers)} ${verb} it)`,
      });
      expect(r.stdout).toBe('');
    });
  });

  it('an unknown option is refused with the usage, exit 101', async () => {
    const [long, short, valued] = await inPairs([
      () => ibt('backup', 'SRC', '--foo'),
      () => ibt('list', 'NAME', '-x'),
      () => ibt('restore', 'NAME', 'TARGET', '--frobnicate=3'),
    ]);
    expect(long!.status).toBe(101);
    expect(long!.stderr).toMatch(/^ibt backup: unknown option --foo\n\nUsage: ibt backup SOURCE \[options\]/);
    expect(short!.status).toBe(101);
    expect(short!.stderr).toMatch(/^ibt list: unknown option -x\n\nUsage: ibt list NAME/);
    expect(valued!.status).toBe(101);
    expect(valued!.stderr).toMatch(/^ibt restore: unknown option --frobnicate\n/);
  });

  it('a value missing, a value given to a flag, the wrong number of operands: exit 101 with the usage', async () => {
    const runs = await inPairs([
      () => ibt('backup', 'SRC', '--work-dir'),
      () => ibt('list', 'NAME', '--json=yes'),
      () => ibt('restore', 'NAME'),
      () => ibt('backup', 'SRC', '--lock-timeout', 'soon'),
    ]);
    for (const r of runs) {
      expect(r.status).toBe(101);
      expect(r.stderr).toMatch(/^ibt (backup|list|restore): .+\n\nUsage: ibt /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(runs[3]!.stderr).toMatch(/--lock-timeout takes a number of seconds, not "soon"/);
  });

  it("each subcommand's help lists exactly its options, with an example", async () => {
    const runs = await inPairs(Object.keys(OPTIONS).map((cmd) => () => ibt(cmd, '--help')));
    Object.entries(OPTIONS).forEach(([cmd, spec], i) => {
      const r = runs[i]!;
      expect(r.status).toBe(0);
      const shown = [...r.stdout.matchAll(/^\s+(?:-h, )?--([a-z-]+)/gm)].map((m) => m[1]);
      expect(shown.sort()).toEqual([...spec.options, 'help'].sort());
      expect(r.stdout).toMatch(new RegExp(`\\nExample:\\n  ibt ${cmd} `));
    });
  });

  it('--version and -V print the version of package.json', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const runs = await inPairs([() => ibt('--version'), () => ibt('-V')]);
    for (const r of runs) expect([r.status, r.stdout, r.stderr]).toEqual([0, `ibt ${version}\n`, '']);
  });
});
