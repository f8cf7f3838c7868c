// When the model looks at the doorbell page: a setImmediate loop while there
// is work, which keeps spinning for `spinMs` after the last command, then a
// timer (`idleIntervalMs`, then `sleepIntervalMs` after `sleepAfterMs` of
// quiet). kick() polls at once (a doorbell written through a message, bus
// mastering turned on, the controller enabled, ...).

/** How the model polls its doorbell page for new submissions: spinning, then a timer. */
export interface NvmePollOptions {
  /** Keep polling with setImmediate this long after the last command (default 5 ms). */
  spinMs?: number;
  /** Then poll on a timer of this period (default 1 ms)... */
  idleIntervalMs?: number;
  /** ...until the controller has been idle this long (default 1000 ms)... */
  sleepAfterMs?: number;
  /** ...and then with this period (default 10 ms). */
  sleepIntervalMs?: number;
  /** Most commands taken from one submission queue per round (default 256). */
  burst?: number;
}

export function pollDefaults(o: NvmePollOptions = {}): Required<NvmePollOptions> {
  return {
    spinMs: o.spinMs ?? 5,
    idleIntervalMs: o.idleIntervalMs ?? 1,
    sleepAfterMs: o.sleepAfterMs ?? 1000,
    sleepIntervalMs: o.sleepIntervalMs ?? 10,
    burst: o.burst ?? 256,
  };
}

export interface PollTarget {
  /** Whether polling makes sense (the controller is ready and the model open). */
  active(): boolean;
  /** One round; returns the commands completed, or -1 to stop polling (the controller failed, or has no queue). */
  round(): number;
  /** Counts the rounds a timer started. */
  timerPolled(): void;
}

export class Poller {
  readonly #options: Required<NvmePollOptions>;
  readonly #target: PollTarget;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastActivity = 0;

  constructor(options: Required<NvmePollOptions>, target: PollTarget) {
    this.#options = options;
    this.#target = target;
  }

  /** Polls at once, and spins again from now. */
  kick(): void {
    this.#lastActivity = performance.now();
    if (this.#immediate !== undefined || !this.#target.active()) return;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#immediate = setImmediate(this.#tick);
  }

  stop(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
  }

  readonly #tick = (): void => {
    this.#immediate = undefined;
    this.#timer = undefined;
    const t = this.#target;
    if (!t.active()) return;
    const now = performance.now();
    const n = t.round();
    if (n < 0) return;
    if (n > 0) this.#lastActivity = now;
    const idle = now - this.#lastActivity;
    const p = this.#options;
    if (idle < p.spinMs) {
      this.#immediate = setImmediate(this.#tick);
    } else {
      this.#timer = setTimeout(this.#timerTick, idle < p.sleepAfterMs ? p.idleIntervalMs : p.sleepIntervalMs);
    }
  };

  readonly #timerTick = (): void => {
    this.#target.timerPolled();
    this.#tick();
  };
}
