/**
 * Is a process provably dead? The question behind taking over a lock left by a crashed run and
 * removing the temporary files it left behind.
 *
 * A pid alone proves little: pids are reused, and a pid recorded on another machine, or in
 * another container's pid namespace, names nothing here. So a process is identified by its
 * host name, the kernel boot (Linux: /proc/sys/kernel/random/boot_id, fresh at every boot),
 * its pid namespace, its pid and its start time (/proc/PID/stat field 22, clock ticks since
 * boot). It is *provably dead* only on evidence this machine holds:
 *  - it ran on this host under an earlier boot, and was recorded before this boot began (a
 *    record made after that comes from a second machine carrying the same host name); or
 *  - same boot and pid namespace, and its pid does not exist (kill(pid, 0) gives ESRCH) or
 *    belongs to a process with another start time (the pid was reused).
 * Everything else (another host, another pid namespace, a live pid on a system without /proc,
 * where it cannot be told from a reused one) is "not provably dead" and must be treated as
 * alive. Being wrong in that direction costs a manual clean-up; being wrong in the other would
 * delete a live run's lock or files. Host names must therefore name machines: two machines
 * sharing one name and one repository defeat any pid-based test.
 */
import { readFile, readlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { BackupError } from '../errors.js';

/** Who a process is, as far as its host can tell. The Linux-only parts are absent elsewhere. */
export interface ProcessIdentity {
  /** The host name (`os.hostname()`). */
  hostname: string;
  /** The process id. */
  pid: number;
  /** Linux: the start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTicks?: number;
  /** Linux: the kernel's boot id, different at every boot. */
  bootId?: string;
  /** Linux: the pid namespace the pid counts in, e.g. `pid:[4026531836]`. */
  pidNamespace?: string;
}

/**
 * Clock ticks per second in /proc (USER_HZ). It is 100 on every architecture Node runs on;
 * it is checked against this process's own start before any tick count is turned into a date.
 */
const USER_HZ = 100;

/**
 * How much later than a file's mtime a process must have started before the file is taken to
 * be another process's: the wall clock may have been stepped forward since the file was
 * written (NTP at boot, a manual fix), which makes a process look younger than it is.
 */
export const CLOCK_STEP_MARGIN_MS = 60_000;

interface HostFacts {
  bootId?: string;
  /** The wall-clock time of this boot, floored to the second (/proc/stat btime). */
  bootTimeMs?: number;
  pidNamespace?: string;
  ownStartTicks?: number;
  /** Whether start ticks can be turned into dates (USER_HZ checked against our own start). */
  ticksToDates: boolean;
}

let facts: Promise<HostFacts> | undefined;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function readHostFacts(): Promise<HostFacts> {
  const [bootId, stat, pidNamespace, ownStartTicks] = await Promise.all([
    readText('/proc/sys/kernel/random/boot_id').then((s) => s?.trim() || undefined),
    readText('/proc/stat'),
    readlink('/proc/self/ns/pid').catch(() => undefined),
    processStartTicks(process.pid),
  ]);
  const btime = stat === undefined ? undefined : /^btime (\d+)$/m.exec(stat)?.[1];
  const bootTimeMs = btime === undefined ? undefined : Number(btime) * 1000;
  // Our own start, from the tick count, must agree with the time node says it started; the
  // slack covers btime's truncation to the second and the time node took to boot.
  const ticksToDates =
    bootTimeMs !== undefined &&
    ownStartTicks !== undefined &&
    Math.abs(bootTimeMs + (ownStartTicks * 1000) / USER_HZ - performance.timeOrigin) < 5_000;
  return { bootId, bootTimeMs, pidNamespace, ownStartTicks, ticksToDates };
}

function hostFacts(): Promise<HostFacts> {
  facts ??= readHostFacts();
  return facts;
}

/** The identity of the current process (the Linux parts are read once). */
export async function currentProcess(): Promise<ProcessIdentity> {
  const f = await hostFacts();
  const me: ProcessIdentity = { hostname: hostname(), pid: process.pid };
  if (f.ownStartTicks !== undefined) me.startTicks = f.ownStartTicks;
  if (f.bootId !== undefined) me.bootId = f.bootId;
  if (f.pidNamespace !== undefined) me.pidNamespace = f.pidNamespace;
  return me;
}

function checkPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    // kill(0) and kill(-n) address process groups: never let such a value through.
    throw new BackupError('EPARAM', `invalid process id ${String(pid)}`);
  }
}

/**
 * Whether a process with id `pid` exists on this host (in this pid namespace). A process that
 * exists but belongs to another user (EPERM) exists.
 */
export function processIsAlive(pid: number): boolean {
  checkPid(pid);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * The start time field (22, clock ticks since boot) of a /proc/PID/stat line, or undefined
 * when the line is not one. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so fields are counted from the last `)`.
 */
export function startTicksFromStat(line: string): number | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") " come fields 3 (state), 4, ...: field 22 is the 20th.
  const value = line.slice(close + 2).trimEnd().split(' ')[22 - 3];
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const ticks = Number(value);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

/** Linux: the start time of process `pid` in clock ticks since boot; undefined when it does not exist or there is no /proc. */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  checkPid(pid);
  const line = await readText(`/proc/${pid}/stat`);
  return line === undefined ? undefined : startTicksFromStat(line);
}

/**
 * Linux: when process `pid` started, in ms since the epoch (with the precision of a second),
 * or undefined when it does not exist or this host cannot tell.
 */
export async function processStartTime(pid: number): Promise<number | undefined> {
  const f = await hostFacts();
  if (!f.ticksToDates) return undefined;
  const ticks = await processStartTicks(pid);
  return ticks === undefined ? undefined : f.bootTimeMs! + (ticks * 1000) / USER_HZ;
}

/**
 * Whether the process `holder` (recorded `createdAtMs`, ms since the epoch) is provably dead,
 * by the rules in this module's header. False means "maybe alive", never "alive".
 */
export async function holderIsDead(holder: ProcessIdentity, createdAtMs: number): Promise<boolean> {
  const f = await hostFacts();
  if (holder.hostname !== hostname()) return false;
  if ((holder.bootId === undefined) !== (f.bootId === undefined)) return false;
  if (holder.bootId !== f.bootId) {
    // An earlier boot of this host ended every process it ran.
    return f.bootTimeMs !== undefined && createdAtMs < f.bootTimeMs;
  }
  if (holder.pidNamespace !== f.pidNamespace) return false;
  if (!processIsAlive(holder.pid)) return true;
  if (holder.startTicks === undefined) return false;
  const ticks = await processStartTicks(holder.pid);
  if (ticks === undefined) return !processIsAlive(holder.pid);
  return ticks !== holder.startTicks;
}

/**
 * Whether the process `pid` of this host, which wrote a file last modified at `mtimeMs` (ms
 * since the epoch), is provably gone: no process has that pid, or the one that has it started
 * after the file was written (more than {@link CLOCK_STEP_MARGIN_MS} after, in case the clock
 * was stepped). For files only processes of this host write: a pid names nothing elsewhere.
 */
export async function writerIsDead(pid: number, mtimeMs: number): Promise<boolean> {
  if (!processIsAlive(pid)) return true;
  const started = await processStartTime(pid);
  if (started === undefined) return !processIsAlive(pid);
  return started > mtimeMs + CLOCK_STEP_MARGIN_MS;
}
