/** Backup ids: sortable by time, unique within a millisecond, monotonic when the clock goes back. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, idDate } from '../../src/backup/catalog.js';
import { withTempDir } from '../helpers/tools.js';

describe('backup ids', () => {
  it('are unique and increasing for backups in the same millisecond and after the clock went back', () =>
    withTempDir(async (tmp) => {
      const now = new Date('2026-11-22T08:15:00.123Z');
      await mkdir(join(tmp.path, 'n'));
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const catalog = await Catalog.open(tmp.path, 'n');
        const id = catalog.newId(i < 2 ? now : new Date(now.getTime() - 60_000));
        ids.push(id);
        await writeFile(join(tmp.path, 'n', `${id}.state.json`), '{}');
      }
      expect(ids).toEqual(['20261122T081500123Z-000', '20261122T081500123Z-001', '20261122T081500123Z-002']);
      expect(idDate(ids[1]!).toISOString()).toBe('2026-11-22T08:15:00.123Z');
    }));
});
