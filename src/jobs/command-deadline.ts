/** What ended a command early, if anything: its wall-clock limit or a stop request. */
export interface CommandDeadline {
  readonly timedOut: boolean;
  readonly stopped: boolean;
  /** The command ended: no more signals. */
  clear(): void;
}

export interface CommandDeadlineOptions {
  timeoutMs: number;
  /** Between SIGTERM and `kill`. */
  killGraceMs: number;
  /** Aborting stops the command the same way the timeout does (a stop request, Ctrl-C). */
  signal?: AbortSignal;
  /** Asks the command to end (SIGTERM). */
  terminate: () => void;
  /** Ends it for good, once the grace period is over: SIGKILL, or the whole sandbox. */
  kill: () => void;
}

/**
 * The one timeout of run and exec jobs: at `timeoutMs` (or when `signal` aborts) the command
 * gets SIGTERM, and a command that ignores it is killed `killGraceMs` later.
 */
export function commandDeadline(options: CommandDeadlineOptions): CommandDeadline {
  let timedOut = false;
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const end = () => {
    options.terminate();
    killTimer ??= setTimeout(options.kill, options.killGraceMs);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    end();
  }, options.timeoutMs);
  const onAbort = () => {
    stopped = true;
    end();
  };
  // Aborted before the command started: the listener would never fire.
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    get timedOut() {
      return timedOut;
    },
    get stopped() {
      return stopped;
    },
    clear() {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
    },
  };
}
