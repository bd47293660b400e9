/**
 * Ctrl-C and `kill` during a backup or restore: stop cleanly, then exit as a signal would.
 *
 * Killed outright, a backup leaves its partial archives and spool files (hundreds of MB for
 * a large file) until the next run of the same name removes them. So the first SIGINT or
 * SIGTERM aborts the operation's AbortSignal instead: the API stops at its next chunk,
 * removes what it wrote and throws `EABORTED`, which the command prints. The exit status is
 * then 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), what a shell reports for a
 * command the signal killed, whatever error the aborted operation ended with. An operation
 * that finished before it noticed the signal keeps its result and its status. A second signal
 * exits at once, for a user who will not wait for the cleanup.
 */
import { printError } from './stdio.js';

const NUMBER = { SIGINT: 2, SIGTERM: 15 } as const;
type Caught = keyof typeof NUMBER;

/** The signals caught while one operation runs. */
export interface Interrupts {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** 128 + the number of the first signal received, or undefined when none came. */
  readonly exitStatus: number | undefined;
  /** Stop catching: from now on the signals have their default effect again. */
  dispose(): void;
}

/** Catch SIGINT and SIGTERM until `dispose`, aborting the returned signal on the first. */
export function catchSignals(): Interrupts {
  const controller = new AbortController();
  let first: Caught | undefined;
  const handlers = (Object.keys(NUMBER) as Caught[]).map((name) => {
    const handler = (): void => {
      if (first !== undefined) {
        printError(`ibt: ${name} again: exiting without cleaning up\n`);
        process.exit(128 + NUMBER[name]);
      }
      first = name;
      controller.abort();
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    get exitStatus() {
      return first === undefined ? undefined : 128 + NUMBER[first];
    },
    dispose() {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
