/** Backup ids: sortable by time, unique within a millisecond, increasing when the clock goes back. */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { idDate, isBackupId, nextId } from '../../src/state/ids.js';

const now = new Date('2026-11-22T08:15:00.123Z');

describe('backup ids', () => {
  it('name the time of the backup to the millisecond, sequence 000 first', () => {
    expect(nextId(undefined, now)).toBe('20261122T081500123Z-000');
    expect(idDate('20261122T081500123Z-007').toISOString()).toBe('2026-11-22T08:15:00.123Z');
    expect(nextId('20261122T081500122Z-999', now)).toBe('20261122T081500123Z-000');
  });

  it('two backups in the same millisecond get consecutive sequence numbers', () => {
    expect(nextId('20261122T081500123Z-000', now)).toBe('20261122T081500123Z-001');
    expect(nextId('20261122T081500123Z-041', now)).toBe('20261122T081500123Z-042');
  });

  it('after the clock went back a new id is still greater than the last one', () => {
    const back = new Date(now.getTime() - 60_000);
    expect(nextId('20261122T081500123Z-002', back)).toBe('20261122T081500123Z-003');
  });

  it('after sequence 999 the id moves on to the next millisecond, across a year boundary too', () => {
    expect(nextId('20261122T081500123Z-999', now)).toBe('20261122T081500124Z-000');
    expect(nextId('20261231T235959999Z-999', now)).toBe('20270101T000000000Z-000');
  });

  it('refuses times and ids it cannot represent (EPARAM)', () => {
    expect(() => nextId(undefined, new Date(NaN))).toThrow(expect.objectContaining({ code: 'EPARAM' }));
    expect(() => nextId(undefined, new Date('+010000-01-01T00:00:00Z'))).toThrow(expect.objectContaining({ code: 'EPARAM' }));
    expect(() => nextId('99991231T235959999Z-999', now)).toThrow(expect.objectContaining({ code: 'EPARAM' }));
    expect(() => nextId('../x', now)).toThrow(expect.objectContaining({ code: 'EPARAM' }));
    expect(() => idDate('20261322T081500123Z-000')).toThrow(expect.objectContaining({ code: 'EPARAM' }));
  });

  it('isBackupId accepts only the exact form naming a real instant', () => {
    expect(isBackupId('20240229T000000000Z-000')).toBe(true);
    for (const bad of ['20230229T000000000Z-000', '20261322T081500123Z-000', '20261122T246000000Z-000', '20261122T081500123Z-00', '20261122T081500123Z-0000', ' 20261122T081500123Z-000', '20261122T081500123Z-000/..', 20261122, null]) {
      expect(isBackupId(bad)).toBe(false);
    }
  });

  test.prop([fc.option(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })), fc.integer({ min: 0, max: 999 }), fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })])(
    'a new id is a valid id greater than the last, whatever the clock says',
    (lastTime, seq, at) => {
      const last = lastTime === null ? undefined : `${nextId(undefined, lastTime).slice(0, -3)}${String(seq).padStart(3, '0')}`;
      const id = nextId(last, at);
      expect(isBackupId(id)).toBe(true);
      if (last !== undefined) expect(id > last).toBe(true);
      expect(idDate(id).getTime()).toBeGreaterThanOrEqual(Math.min(at.getTime(), last === undefined ? Infinity : idDate(last).getTime()));
    },
  );
});
