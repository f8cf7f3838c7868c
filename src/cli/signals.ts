// Stopping on a signal, the same way for every long-running command: the
// first SIGINT, SIGTERM or SIGHUP starts an orderly stop; any later one asks
// to stop now (the handlers stay installed, so no signal ever falls through
// to Node's default and kills the process with its files still on disk).

import { constants } from 'node:os';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The shell's exit status for a process ended by `signal`: 128 + its number. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * Calls `stop` on the first stop signal and `now` (default: nothing more) on
 * each later one. Returns a function that removes the handlers.
 */
export function onStopSignals(stop: (signal: StopSignal) => void, now?: (signal: StopSignal) => void): () => void {
  let seen = false;
  const handlers = STOP_SIGNALS.map((signal) => {
    const h = (): void => {
      if (!seen) {
        seen = true;
        stop(signal);
      } else now?.(signal);
    };
    process.on(signal, h);
    return [signal, h] as const;
  });
  return () => {
    for (const [signal, h] of handlers) process.off(signal, h);
  };
}

/** An AbortSignal aborted by the first stop signal (for commands that only need to end). */
export function stopSignal(): AbortSignal {
  const ac = new AbortController();
  onStopSignals(() => ac.abort());
  return ac.signal;
}
