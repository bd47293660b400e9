/**
 * External tools and scratch space for tests.
 *
 * Conformance tests compare against real programs (`rdiff`). Where a tool is missing a
 * developer's run skips those suites and says why in the suite's name; on CI
 * (`CI=true`) a missing tool must fail the run, because a green CI that compared against
 * nothing would prove nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';

/** True when running under CI, where nothing that proves conformance may be skipped. */
export const onCi = process.env.CI === 'true';

/** Whether a suite that needs a tool runs, and the note that goes into its name. */
export interface ToolRequirement {
  /** The tool was found. */
  available: boolean;
  /** Skip the suites that need it: the tool is missing and this is not CI. */
  skip: boolean;
  /** Empty when available, else `" (skipped: … not found)"` for the suite title. */
  note: string;
}

const probed = new Map<string, boolean>();

function probe(name: string): boolean {
  let found = probed.get(name);
  if (found === undefined) {
    const r = spawnSync(name, ['--version'], { stdio: 'ignore' });
    found = r.error === undefined;
    probed.set(name, found);
  }
  return found;
}

/**
 * Check for `name` on PATH. Call at the top of a test file and use the result with
 * `describe.skipIf(req.skip)(\`title${req.note}\`, …)`. On CI a missing tool registers a
 * failing test and nothing is skipped.
 */
export function requireTool(name: string): ToolRequirement {
  const available = probe(name);
  if (available) return { available, skip: false, note: '' };
  if (onCi) {
    it(`${name} is installed (required when CI=true)`, () => {
      throw new Error(`${name} was not found on PATH; CI must compare against the real ${name}`);
    });
    return { available, skip: false, note: '' };
  }
  const note = ` (skipped: ${name} not found on PATH)`;
  console.warn(`[tests] ${name} not found on PATH: suites that compare against it are skipped`);
  return { available, skip: true, note };
}

/** A temporary directory under the OS temp dir. */
export interface TempDir {
  readonly path: string;
  /** The path of `name` inside the directory. */
  file(name: string): string;
}

async function makeTempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'ibt-test-'));
  return { path, file: (name: string) => join(path, name) };
}

/**
 * A temporary directory created before the suite's tests and removed after them. Its `path`
 * is only valid inside hooks and tests.
 */
export function useTempDir(): TempDir {
  let dir: TempDir | undefined;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    if (dir) await rm(dir.path, { recursive: true, force: true });
  });
  const current = (): TempDir => {
    if (!dir) throw new Error('useTempDir: the directory exists only inside hooks and tests');
    return dir;
  };
  return {
    get path() {
      return current().path;
    },
    file: (name) => current().file(name),
  };
}

/** Run `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: TempDir) => Promise<T>): Promise<T> {
  const dir = await makeTempDir();
  try {
    return await fn(dir);
  } finally {
    await rm(dir.path, { recursive: true, force: true });
  }
}

/**
 * Whether the built package has `files` (paths from the repository root); a suite that runs
 * it skips without. On CI a missing build registers a failing test instead.
 */
export function requireBuilt(...files: string[]): boolean {
  const built = files.every((f) => existsSync(f));
  if (!built && onCi) {
    it('dist/ is built (required when CI=true)', () => {
      throw new Error(`${files.filter((f) => !existsSync(f)).join(', ')} missing: run npm run build before the tests`);
    });
  }
  return built;
}
