/**
 * A basis of more than 4 GiB, generated on the fly, through signature, delta (against a new
 * stream with a few edits, one straddling 2^32, so COPY offsets need 8 bytes) and patch (from
 * the basis written once to disk). Results are checked by hash and against rdiff, which
 * reads the same basis file and the same new stream on its stdin; the process's memory must
 * stay flat throughout. Slow, so it runs in `npm run test:slow` (IBT_SLOW=1), which CI runs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigStream, spliced, StreamHash, type Splice } from '../helpers/big-stream.js';
import { deltaCommands, sameBytes } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { runRdiff } from '../helpers/rdiff.js';
import { collect } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const MiB = 1 << 20;
const SIZE = 4 * 1024 * MiB + MiB + 123;
const SEED = 77;
const SPLICES: Splice[] = [
  { at: 1_000_000_007, remove: 100, insert: randomData(1, 100) },
  { at: 2 ** 31 - 1000, remove: 0, insert: randomData(2, 5000) },
  { at: 3_000_000_000, remove: 70_000, insert: new Uint8Array(0) },
  { at: 2 ** 32 - 100, remove: 200, insert: randomData(3, 200) },
  { at: SIZE, remove: 0, insert: randomData(4, 1234) },
];
const newStream = () => spliced(bigStream(SEED, SIZE), SPLICES);

/**
 * Samples the resident set size while jobs run. Each job's growth is its peak over the RSS
 * it started with, so garbage a previous job left for the collector does not count against
 * the next one.
 */
class RssWatch {
  private phaseStart = 0;
  private phasePeak = 0;
  private worst = 0;
  private readonly phases: string[] = [];
  private readonly timer = setInterval(() => this.sample(), 100);

  sample(): void {
    this.phasePeak = Math.max(this.phasePeak, process.memoryUsage().rss);
  }

  /** Run one job, noting its peak growth. */
  async phase<T>(label: string, fn: () => Promise<T>): Promise<T> {
    this.phaseStart = this.phasePeak = process.memoryUsage().rss;
    try {
      return await timed(label, fn);
    } finally {
      this.sample();
      const growth = (this.phasePeak - this.phaseStart) / MiB;
      this.worst = Math.max(this.worst, growth);
      this.phases.push(`${label} +${growth.toFixed(0)} MiB`);
    }
  }

  /** The largest growth of any job in MiB, and the growth of each. */
  stop(): { growth: number; phases: string } {
    clearInterval(this.timer);
    return { growth: this.worst, phases: this.phases.join(', ') };
  }

  /** `source`, sampling RSS every 64 chunks (the timer cannot fire while a job computes). */
  async *watch(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let n = 0;
    for await (const chunk of source) {
      if (++n % 64 === 0) this.sample();
      yield chunk;
    }
  }
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await fn();
  console.log(`[large-file] ${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return result;
}

/** Run `rdiff delta sig - delta` with the new stream on its stdin, hashing the stream on the way. */
async function rdiffDeltaOfStream(sigPath: string, deltaPath: string, hash: StreamHash): Promise<number> {
  const child = spawn('rdiff', ['-f', 'delta', sigPath, '-', deltaPath], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exit = once(child, 'close');
  for (const chunk of hash.tap(newStream())) {
    if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
  }
  child.stdin.end();
  const [code] = (await exit) as [number];
  return code;
}

const slow = process.env.IBT_SLOW === '1';
const rdiff = requireTool('rdiff');
const note = slow ? rdiff.note : ' (skipped: a slow campaign, run by `npm run test:slow`, which CI runs)';

describe.skipIf(!slow || rdiff.skip)(`a basis of 4 GiB + 1 MiB through signature, delta and patch${note}`, () => {
  const dir = useTempDir();
  let rdiffSig: Buffer;
  let rdiffDelta: Buffer;
  let newHash: string;

  beforeAll(async () => {
    const basis = dir.file('basis');
    await timed('write the basis file', async () => {
      const handle = await open(basis, 'w');
      try {
        for (const chunk of bigStream(SEED, SIZE)) await handle.write(chunk);
      } finally {
        await handle.close();
      }
    });
    await timed('rdiff signature', async () => {
      expect((await runRdiff(['-f', 'signature', basis, dir.file('sig')])).code).toBe(0);
    });
    rdiffSig = await readFile(dir.file('sig'));
    expect(rdiffSig.length).toBe(12 + Math.ceil(SIZE / 65536) * 36);
    const hash = await StreamHash.create();
    await timed('rdiff delta of the new stream', async () => {
      expect(await rdiffDeltaOfStream(dir.file('sig'), dir.file('rdelta'), hash)).toBe(0);
    });
    rdiffDelta = await readFile(dir.file('rdelta'));
    newHash = hash.digest();
  }, 1_800_000);

  afterAll(async () => {
    await rm(dir.file('basis'), { force: true });
  });

  it('the edits make COPYs with 8-byte offsets', () => {
    const wide = deltaCommands(rdiffDelta).filter((c) => 'offset' in c && c.op >= 0x51);
    expect(wide.length).toBeGreaterThan(0);
  });

  forEachEngine((engine) => {
    it('signature and delta equal rdiff\'s, patch gives the new stream back, memory stays flat', async () => {
      const rss = new RssWatch();
      try {
        const sig = await rss.phase(`${engine.name} signature`, () =>
          collect(engine.signature(rss.watch(bigStream(SEED, SIZE)), { fileSize: SIZE })),
        );
        expect(sameBytes(sig, rdiffSig), 'signature').toBe('same');
        const delta = await rss.phase(`${engine.name} delta`, () => collect(engine.delta(sig, rss.watch(newStream()))));
        expect(sameBytes(delta, rdiffDelta), 'delta').toBe('same');
        const patched = await rss.phase(`${engine.name} patch`, async () => {
          const basis = await open(dir.file('basis'));
          try {
            return await (await StreamHash.create()).consume(rss.watch(engine.patch(basis, delta)));
          } finally {
            await basis.close();
          }
        });
        expect(patched).toBe(newHash);
      } finally {
        const { growth, phases } = rss.stop();
        console.log(`[large-file] ${engine.name} peak RSS growth: ${phases}`);
        expect(growth, phases).toBeLessThan(300);
      }
    }, 1_800_000);
  });
});
