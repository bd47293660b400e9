/**
 * The backup's read-ahead: work finished in the order it was added whatever order it
 * completes in (archives that depend on timing would differ run to run), never more in
 * flight than its bounds, and a failure that surfaces at its place once everything started
 * has settled (nothing left reading while the backup cleans up).
 */
import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReadAhead } from '../../src/backup/read-ahead.js';

describe('ReadAhead', () => {
  it('finishes in the order items were added, within its bounds, whatever the order they complete in', () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 3 }), bytes: fc.integer({ min: 0, max: 100 }), sync: fc.boolean() }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        async (items, maxItems) => {
          const ahead = new ReadAhead(maxItems, 150);
          const finished: number[] = [];
          let inFlight = 0;
          let held = 0;
          let worst = 0;
          let worstBytes = 0;
          for (const [i, item] of items.entries()) {
            if (item.sync) {
              await ahead.then(() => {
                finished.push(i);
              });
              continue;
            }
            await ahead.add(
              item.bytes,
              async () => {
                inFlight++;
                held += item.bytes;
                worst = Math.max(worst, inFlight);
                worstBytes = Math.max(worstBytes, held);
                await sleep(item.delay);
                return i;
              },
              (v) => {
                inFlight--;
                held -= item.bytes;
                finished.push(v);
              },
            );
          }
          await ahead.drain();
          expect(finished).toEqual(items.map((_, i) => i));
          expect(worst).toBeLessThanOrEqual(maxItems);
          const biggest = Math.max(0, ...items.map((x) => x.bytes));
          expect(worstBytes).toBeLessThanOrEqual(Math.max(150, biggest));
        },
      ),
      { numRuns: 60 },
    ));

  it('a failed item surfaces in its turn: the items before it are finished, those after it settle and are dropped', async () => {
    const ahead = new ReadAhead(8, 1 << 20);
    const finished: number[] = [];
    const settled: number[] = [];
    const run = async (): Promise<void> => {
      for (let i = 0; i < 6; i++) {
        await ahead.add(
          1,
          async () => {
            await sleep(i === 2 ? 5 : i > 2 ? 30 : 1);
            settled.push(i);
            if (i === 2) throw new Error('read 2 failed');
            return i;
          },
          (v) => {
            finished.push(v);
          },
        );
      }
      await ahead.drain();
    };
    await expect(run()).rejects.toThrow('read 2 failed');
    expect(finished).toEqual([0, 1]);
    expect(settled.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
