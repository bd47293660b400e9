/**
 * The codec registry and what derives from it: artifact names, the state schema's enum, the
 * choice of a backup's compression, and the errors where zstd-napi does not load — shown
 * through an injected loader, the way a platform without the binding behaves.
 */
import { describe, expect, it } from 'vitest';
import { archiveError, chooseCompression, codecOf, COMPRESSIONS, zstdStage } from '../../src/archive/index.js';
import { probeZstd, zstdSupport, type ZstdSupport } from '../../src/archive/zstd-binding.js';
import { BackupError } from '../../src/errors.js';
import { artifactFile, idOfFile } from '../../src/state/artifact-names.js';
import { artifactSummarySchema } from '../../src/state/schema.js';
import { requireZstdBinding } from '../helpers/zstd.js';

const ID = '20261122T081500123Z-000';
const missing = (): never => {
  throw new Error("Cannot find module 'zstd-napi/binding'\nRequire stack: …");
};
const noZstd: ZstdSupport = probeZstd(missing);

function thrown(fn: () => unknown): BackupError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BackupError);
    return e as BackupError;
  }
  throw new Error('expected an error');
}

describe('the registry', () => {
  it('names none, gzip and zstd, with their suffixes', () => {
    expect(COMPRESSIONS).toEqual(['none', 'gzip', 'zstd']);
    expect(COMPRESSIONS.map((c) => [codecOf(c).name, codecOf(c).suffix])).toEqual([
      ['none', ''],
      ['gzip', '.gz'],
      ['zstd', '.zst'],
    ]);
  });

  it('gives artifact names their suffix, and recognises every name it gives', () => {
    for (const c of COMPRESSIONS) {
      const file = artifactFile(ID, 'files', c);
      expect(file).toBe(`${ID}.files.tar${codecOf(c).suffix}`);
      expect(idOfFile(file)).toBe(ID);
      expect(idOfFile(artifactFile(ID, 'deltas', c))).toBe(ID);
    }
    expect(idOfFile(`${ID}.files.tar.xz`)).toBeUndefined();
    expect(artifactFile(ID, 'sigvault', 'zstd')).toBe(`${ID}.sigvault.tar`);
  });

  it('is the state schema enum: zstd is accepted, gzip states still read, other names are refused', () => {
    const summary = { role: 'files', file: `${ID}.files.tar.zst`, size: 1, hash: '0123456789abcdef', entries: 1 };
    for (const c of COMPRESSIONS) expect(artifactSummarySchema.parse({ ...summary, compression: c }).compression).toBe(c);
    const bad = artifactSummarySchema.safeParse({ ...summary, compression: 'lz4' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.message).toBe('expected "none", "gzip" or "zstd"');
  });
});

describe('choosing a backup compression', () => {
  it('defaults to zstd where zstd-napi loads, to gzip where it does not', () => {
    expect(chooseCompression(undefined, { binding: {} as never })).toBe('zstd');
    expect(chooseCompression(undefined, noZstd)).toBe('gzip');
  });

  it('takes gzip and none whether zstd loads or not', () => {
    for (const c of ['gzip', 'none'] as const) expect(chooseCompression(c, noZstd)).toBe(c);
  });

  it('explicit zstd where zstd-napi does not load is ENATIVE at the start, saying why and what to do', () => {
    const err = thrown(() => chooseCompression('zstd', noZstd));
    expect(err.code).toBe('ENATIVE');
    expect(err.message).toMatch(/^compression "zstd" cannot be used: the optional dependency zstd-napi cannot be loaded \(Cannot find module 'zstd-napi\/binding'\); use gzip, or install zstd-napi$/);
  });

  it('a name the registry lacks is EPARAM listing the names', () => {
    const err = thrown(() => chooseCompression('zip', noZstd));
    expect(err.code).toBe('EPARAM');
    expect(err.message).toBe('compression must be none, gzip or zstd, not "zip"');
  });
});

describe('loading zstd-napi', () => {
  it('turns a failing load into a reason, and a binding without the API into another', () => {
    expect(noZstd).toEqual({ reason: "the optional dependency zstd-napi cannot be loaded (Cannot find module 'zstd-napi/binding')" });
    expect(probeZstd(() => ({ compress: () => 0 })).reason).toBe('the installed zstd-napi lacks the CCtx and DCtx API this library uses');
  });

  it('a zstd archive where zstd-napi does not load is ENATIVE naming the archive and zstd-napi', () => {
    const path = `/work/src/${ID}.files.tar.zst`;
    const err = archiveError(thrown(() => zstdStage(noZstd)), path);
    expect(err.code).toBe('ENATIVE');
    expect(err.path).toBe(path);
    expect(err.message).toMatch(new RegExp(`^${path}: the archive is compressed with zstd, and reading it needs zstd-napi: .*Cannot find module`));
  });

  const zstd = requireZstdBinding();
  it.skipIf(zstd.skip)(`loads here, and the registry says zstd is available${zstd.note}`, () => {
    expect(zstdSupport().reason).toBeUndefined();
    expect(codecOf('zstd').unavailable()).toBeUndefined();
    expect(chooseCompression(undefined)).toBe('zstd');
  });
});
