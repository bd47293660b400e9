/** Artifact names are derived from a backup id, so none can hold a path. */
import { describe, expect, it } from 'vitest';
import { artifactFile, idOfFile, isStateFile, plainStateFile } from '../../src/state/artifact-names.js';

const ID = '20261122T081500123Z-000';

describe('artifact names', () => {
  it('are the id, the role and the compression', () => {
    expect(artifactFile(ID, 'state', 'gzip')).toBe(`${ID}.state.json.gz`);
    expect(artifactFile(ID, 'state', 'none')).toBe(`${ID}.state.json.gz`);
    expect(plainStateFile(ID)).toBe(`${ID}.state.json`);
    expect(artifactFile(ID, 'sigvault', 'gzip')).toBe(`${ID}.sigvault.tar`);
    expect(artifactFile(ID, 'files', 'gzip')).toBe(`${ID}.files.tar.gz`);
    expect(artifactFile(ID, 'deltas', 'none')).toBe(`${ID}.deltas.tar`);
  });

  it('a name built from a hostile id ("../../elsewhere/x") is refused with EPARAM', () => {
    for (const id of ['../../elsewhere/x', `${ID}/../x`, '', '20261322T081500123Z-000']) {
      expect(() => artifactFile(id, 'files', 'gzip')).toThrow(expect.objectContaining({ code: 'EPARAM' }));
    }
  });

  it('idOfFile recognises exactly the names artifactFile makes', () => {
    for (const role of ['state', 'sigvault', 'files', 'deltas'] as const) {
      for (const c of ['gzip', 'none'] as const) expect(idOfFile(artifactFile(ID, role, c))).toBe(ID);
    }
    expect(idOfFile(plainStateFile(ID))).toBe(ID);
    for (const f of [`${ID}.sigvault.tar.gz`, `${ID}.state.json.tmp`, `.${ID}.state.json.1.tmp`, `.${ID}.state.json.gz.1-ab.tmp`, `x${ID}.files.tar`, '20261322T081500123Z-000.state.json', `${ID}.other.tar`]) {
      expect(idOfFile(f)).toBeUndefined();
    }
  });

  it('isStateFile knows the state files of both forms, and nothing else', () => {
    expect(isStateFile(artifactFile(ID, 'state', 'none'))).toBe(true);
    expect(isStateFile(plainStateFile(ID))).toBe(true);
    for (const f of [artifactFile(ID, 'files', 'gzip'), `${ID}.state.json.gz.tmp`, `.${ID}.state.json.gz.1-ab.tmp`, '20261322T081500123Z-000.state.json.gz', 'state.json.gz']) {
      expect(isStateFile(f)).toBe(false);
    }
  });
});
