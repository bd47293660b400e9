/** The repository layer on a local directory (a mounted disk), its cache elsewhere. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { LocalStorage } from '../../src/index.js';
import { repositoryChainSuite } from './chain-suite.js';

const made: string[] = [];
afterAll(async () => {
  for (const d of made) await rm(d, { recursive: true, force: true });
});

repositoryChainSuite('local directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ibt-repo-'));
  made.push(dir);
  return new LocalStorage(join(dir, 'repo'));
});
