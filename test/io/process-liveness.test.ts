/**
 * Process liveness: a process is declared dead only on proof (no such pid, a reused pid, an
 * earlier boot), never when it merely cannot be checked (another host, another container).
 * Real processes throughout: children are started, identified and killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, symlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CLOCK_STEP_MARGIN_MS,
  currentProcess,
  holderIsDead,
  processIsAlive,
  processStartTicks,
  processStartTime,
  startTicksFromStat,
  writerIsDead,
  type ProcessIdentity,
} from '../../src/io/process-liveness.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const linux = existsSync('/proc/self/stat');
const linuxNote = linux ? '' : ' (skipped: needs /proc)';
if (!linux && onCi) {
  it('/proc is mounted (required when CI=true)', () => {
    throw new Error('/proc/self/stat is missing: the Linux liveness checks cannot run');
  });
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A child that sleeps until killed; resolves once it has started. */
async function sleeper(command: string = process.execPath): Promise<ChildProcess & { pid: number }> {
  const args = command === process.execPath ? ['-e', 'setInterval(() => {}, 1000)'] : ['1000'];
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((done, fail) => {
    child.once('spawn', done);
    child.once('error', fail);
  });
  return child as ChildProcess & { pid: number };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

/** The identity of a running child, as a lock written by it would record. */
async function identityOf(pid: number): Promise<ProcessIdentity> {
  const me = await currentProcess();
  const startTicks = await processStartTicks(pid);
  return { ...me, pid, ...(startTicks === undefined ? {} : { startTicks }) };
}

describe('processIsAlive', () => {
  it('sees this process and not a child that was killed', async () => {
    expect(processIsAlive(process.pid)).toBe(true);
    const child = await sleeper();
    expect(processIsAlive(child.pid)).toBe(true);
    await kill(child);
    expect(processIsAlive(child.pid)).toBe(false);
  });

  it('refuses pids that would signal a process group (0, negative) or are not integers', () => {
    for (const pid of [0, -1, -process.pid, 1.5, Number.NaN]) {
      expect(() => processIsAlive(pid)).toThrow(expect.objectContaining({ code: 'EPARAM' }));
    }
  });
});

describe('startTicksFromStat', () => {
  it('counts fields from the last parenthesis, whatever the command name holds', () => {
    const tail = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21';
    expect(startTicksFromStat(`123 (node) ${tail}\n`)).toBe(424242);
    expect(startTicksFromStat(`123 (a) b (c) d) ${tail}`)).toBe(424242);
    expect(startTicksFromStat(`123 ( ) ) ${tail}`)).toBe(424242);
    expect(startTicksFromStat(`123 (x) S 1 2`)).toBeUndefined();
    expect(startTicksFromStat('garbage')).toBeUndefined();
    expect(startTicksFromStat(`123 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 20`)).toBeUndefined();
  });
});

describe.skipIf(!linux)(`Linux process identity${linuxNote}`, () => {
  it('identifies this process by boot id, pid namespace and start time', async () => {
    const me = await currentProcess();
    expect(me.pid).toBe(process.pid);
    expect(me.hostname).toBe(hostname());
    expect(me.bootId).toBe((await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim());
    expect(me.pidNamespace).toMatch(/^pid:\[\d+\]$/);
    expect(me.startTicks).toBe(await processStartTicks(process.pid));
  });

  it('dates this process start within seconds of when node says it started', async () => {
    const started = await processStartTime(process.pid);
    expect(started).toBeDefined();
    expect(Math.abs(started! - performance.timeOrigin)).toBeLessThan(5_000);
  });

  it('reads the start time of a process whose name holds spaces and parentheses', () =>
    withTempDir(async (tmp) => {
      // The kernel names a process after the file it executed: a symlink's name here.
      const sleep = ['/bin/sleep', '/usr/bin/sleep'].find((p) => existsSync(p));
      if (sleep === undefined) throw new Error('no sleep binary to start');
      const odd = tmp.file('x) 1 2 (y) 3');
      await symlink(sleep, odd);
      const child = await sleeper(odd);
      const line = await readFile(`/proc/${child.pid}/stat`, 'utf8');
      expect(line).toContain('(x) 1 2 (y) 3)');
      const ticks = await processStartTicks(child.pid);
      const uptimeTicks = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]) * 100;
      // Started after this process and before now: a field counted from the wrong
      // parenthesis lands on a small count (threads, priority) or a huge one (limits).
      expect(ticks).toBeGreaterThanOrEqual((await currentProcess()).startTicks!);
      expect(ticks).toBeLessThanOrEqual(uptimeTicks + 1);
    }));
});

describe.skipIf(!linux)(`holderIsDead${linuxNote}`, () => {
  it('never declares this process dead', async () => {
    expect(await holderIsDead(await currentProcess(), Date.now())).toBe(false);
  });

  it('declares a SIGKILLed child dead', async () => {
    const child = await sleeper();
    const who = await identityOf(child.pid);
    expect(await holderIsDead(who, Date.now())).toBe(false);
    await kill(child);
    expect(await holderIsDead(who, Date.now())).toBe(true);
  });

  it('declares a live pid with another start time dead (the pid was reused)', async () => {
    const child = await sleeper();
    const who = await identityOf(child.pid);
    expect(await holderIsDead({ ...who, startTicks: who.startTicks! - 1 }, Date.now())).toBe(true);
  });

  it('never declares a process of another host dead, even when its pid is free here', async () => {
    const child = await sleeper();
    const who = await identityOf(child.pid);
    await kill(child);
    expect(await holderIsDead({ ...who, hostname: `not-${hostname()}` }, Date.now())).toBe(false);
  });

  it('never declares a process of another pid namespace dead (a container)', async () => {
    const child = await sleeper();
    const who = await identityOf(child.pid);
    await kill(child);
    expect(await holderIsDead({ ...who, pidNamespace: 'pid:[1]' }, Date.now())).toBe(false);
  });

  it('declares a process of an earlier boot dead, but not a record made since this boot under another boot id', async () => {
    const me = await currentProcess();
    const otherBoot = { ...me, bootId: '00000000-0000-4000-8000-000000000000' };
    expect(await holderIsDead(otherBoot, Date.parse('2000-01-01T00:00:00Z'))).toBe(true);
    // Made after this host booted, so not by an earlier boot: another machine with our name.
    expect(await holderIsDead(otherBoot, Date.now())).toBe(false);
  });

  it('does not judge a record that lacks the boot id this host has (another kind of system)', async () => {
    const child = await sleeper();
    const { bootId: _bootId, ...who } = await identityOf(child.pid);
    await kill(child);
    expect(await holderIsDead(who, Date.now())).toBe(false);
  });
});

describe.skipIf(!linux)(`writerIsDead (temporary files of crashed runs)${linuxNote}`, () => {
  it('is true for a pid that no longer exists', async () => {
    const child = await sleeper();
    await kill(child);
    expect(await writerIsDead(child.pid, Date.now())).toBe(true);
  });

  it('is false for a live writer, whenever its file was last written after it started', async () => {
    const child = await sleeper();
    expect(await writerIsDead(child.pid, Date.now())).toBe(false);
    expect(await writerIsDead(process.pid, Date.now())).toBe(false);
  });

  it('is true for a pid whose process started after the file was written (the pid was reused)', async () => {
    const started = (await processStartTime(process.pid))!;
    expect(await writerIsDead(process.pid, started - CLOCK_STEP_MARGIN_MS - 2_000)).toBe(true);
    // Within the clock-step margin nothing is proved.
    expect(await writerIsDead(process.pid, started - CLOCK_STEP_MARGIN_MS + 2_000)).toBe(false);
  });
});
