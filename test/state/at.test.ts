/**
 * parseAt: the one reading of a restore's `at`, shared by the API and the CLI. Local times are
 * compared with `new Date(y, m, d, …)` (the same zone as the code under test, whatever the
 * machine's), and one test pins a zone to check a day that is 23 hours long.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { parseAt } from '../../src/state/at.js';

const time = (at: string | Date) => {
  const r = parseAt(at);
  if (r.kind !== 'time') throw new Error(`expected a time for ${String(at)}, got ${JSON.stringify(r)}`);
  return r.time.getTime();
};

describe('parseAt: accepted forms', () => {
  it('nothing is the latest backup', () => {
    expect(parseAt(undefined)).toEqual({ kind: 'latest' });
  });

  it('a backup id is that backup', () => {
    expect(parseAt('20240501T101500123Z-007')).toEqual({ kind: 'id', id: '20240501T101500123Z-007' });
  });

  it('a bare date is the end of that day, local time', () => {
    expect(time('2024-05-01')).toBe(new Date(2024, 4, 1, 23, 59, 59, 999).getTime());
    expect(time('2024-12-31')).toBe(new Date(2024, 11, 31, 23, 59, 59, 999).getTime());
    expect(time('2024-02-29')).toBe(new Date(2024, 1, 29, 23, 59, 59, 999).getTime());
  });

  it('a date-time without a zone is local time, to the end of the minute, second or fraction it names', () => {
    expect(time('2024-05-01T10:30')).toBe(new Date(2024, 4, 1, 10, 30, 59, 999).getTime());
    expect(time('2024-05-01T10:30:15')).toBe(new Date(2024, 4, 1, 10, 30, 15, 999).getTime());
    expect(time('2024-05-01T10:30:15.5')).toBe(new Date(2024, 4, 1, 10, 30, 15, 599).getTime());
    expect(time('2024-05-01T10:30:15.12')).toBe(new Date(2024, 4, 1, 10, 30, 15, 129).getTime());
    expect(time('2024-05-01T10:30:15.123')).toBe(new Date(2024, 4, 1, 10, 30, 15, 123).getTime());
    expect(time('2024-05-01T23:59:59.999999')).toBe(new Date(2024, 4, 1, 23, 59, 59, 999).getTime());
  });

  it('Z and ±HH:MM are honoured', () => {
    expect(time('2024-05-01T10:30Z')).toBe(Date.UTC(2024, 4, 1, 10, 30, 59, 999));
    expect(time('2024-05-01T10:30:15.123+02:00')).toBe(Date.UTC(2024, 4, 1, 8, 30, 15, 123));
    expect(time('2024-05-01T10:30:15.123-05:30')).toBe(Date.UTC(2024, 4, 1, 16, 0, 15, 123));
    expect(time('2024-12-31T23:59:59Z')).toBe(Date.UTC(2024, 11, 31, 23, 59, 59, 999));
  });

  it('two-digit years are not read as 19xx (the Date constructor does that)', () => {
    expect(new Date(time('0099-01-01T00:00:00.000Z')).getUTCFullYear()).toBe(99);
    expect(new Date(time('0050-06-15')).getFullYear()).toBe(50);
  });

  it('a valid Date is that instant, copied', () => {
    const d = new Date('2024-05-01T10:30:15.123Z');
    const r = parseAt(d);
    d.setTime(0);
    expect(r).toEqual({ kind: 'time', time: new Date('2024-05-01T10:30:15.123Z') });
  });

  describe('in a pinned zone', () => {
    const saved = process.env.TZ;
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    it('the end of a 23-hour day (the spring change in Berlin) is its last millisecond, not an hour later', () => {
      process.env.TZ = 'Europe/Berlin';
      expect(new Date(2024, 0, 1).getTimezoneOffset()).toBe(-60); // the zone took effect
      expect(new Date(time('2024-03-31')).toISOString()).toBe('2024-03-31T21:59:59.999Z');
      expect(new Date(time('2024-10-27')).toISOString()).toBe('2024-10-27T22:59:59.999Z');
      expect(new Date(time('2024-07-01T12:00')).toISOString()).toBe('2024-07-01T10:00:59.999Z');
    });
  });
});

describe('parseAt: refused forms are EPARAM naming `at` and the forms it takes', () => {
  const refused: [string, unknown][] = [
    ['a word', 'yesterday'],
    ['"now"', 'now'],
    ['an empty string', ''],
    ['epoch milliseconds as a string', '1714560000000'],
    ['a 30th of February', '2024-02-30'],
    ['a 29th of February outside a leap year', '2023-02-29'],
    ['a 13th month', '2024-13-01'],
    ['a month 00', '2024-00-10'],
    ['hour 24', '2024-05-01T24:00'],
    ['minute 60', '2024-05-01T10:60'],
    ['second 60', '2024-05-01T10:30:60'],
    ['an offset of 24 hours', '2024-05-01T10:30+24:00'],
    ['an offset without minutes', '2024-05-01T10:30+02'],
    ['a zone on a bare date', '2024-05-01Z'],
    ['an hour without minutes', '2024-05-01T10'],
    ['a space instead of T', '2024-05-01 10:30'],
    ['a two-digit year', '24-05-01'],
    ['surrounding spaces', ' 2024-05-01'],
    ['an id-shaped string naming no real instant', '20241301T000000000Z-000'],
    ['an invalid Date', new Date(Number.NaN)],
    ['a number', 1714560000000],
    ['null', null],
    ['an object', {}],
  ];
  it.each(refused)('%s', (_, value) => {
    let error: unknown;
    try {
      parseAt(value as string);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BackupError);
    const e = error as BackupError;
    expect(e.code).toBe('EPARAM');
    expect(e.message).toMatch(/^`at` must be /);
    for (const form of ['YYYYMMDDTHHMMSSmmmZ-NNN', 'YYYY-MM-DD', 'YYYY-MM-DDTHH:MM[:SS[.fff]]', 'Z or ±HH:MM', 'a valid Date']) {
      expect(e.message).toContain(form);
    }
  });
});
