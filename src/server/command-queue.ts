// Commands in arrival order. A handler (or the device model behind it) may
// answer with a promise; the commands that arrive meanwhile wait here until it
// settles, and then run one by one - each may itself go asynchronous and hold
// the rest again. Replies from the client never wait here (the session
// matches them at once), so an asynchronous model can wait for DMA done by
// messages.

import type { FramedMessage, StreamError } from '../protocol/index.js';

/** A command waiting its turn, with the stream error that ended the input after it (for the last one). */
export interface QueuedCommand {
  m: FramedMessage;
  broken: StreamError | undefined;
}

export class CommandQueue {
  readonly #run: (c: QueuedCommand) => Promise<void> | undefined;
  readonly #idle: () => void;
  #waiting: QueuedCommand[] = [];
  #bytes = 0;
  #inflight: Promise<void> | undefined;

  /**
   * `run` handles one command and returns a promise (that never rejects)
   * when it went asynchronous; `idle` is told each time the queue empties
   * with nothing in progress.
   */
  constructor(run: (c: QueuedCommand) => Promise<void> | undefined, idle: () => void) {
    this.#run = run;
    this.#idle = idle;
  }

  /** A command is in progress or waiting. */
  get busy(): boolean {
    return this.#inflight !== undefined || this.#waiting.length !== 0;
  }

  /** A command is in progress (asynchronously). */
  get inflight(): boolean {
    return this.#inflight !== undefined;
  }

  get length(): number {
    return this.#waiting.length;
  }

  /** Bytes of the commands waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Settles when the command in progress (if any) is done. */
  idle(): Promise<void> {
    return this.#inflight ?? Promise.resolve();
  }

  /** Runs `c` now if nothing is in progress, or queues it; false (and nothing queued) when `limit` commands already wait. */
  push(c: QueuedCommand, limit: number): boolean {
    if (this.#inflight === undefined) {
      this.#start(c);
      return true;
    }
    if (this.#waiting.length >= limit) return false;
    this.#waiting.push(c);
    this.#bytes += c.m.message.length;
    return true;
  }

  /** Holds later commands until `p` (which never rejects) settles: a command handled elsewhere (the fast path) went asynchronous. */
  hold(p: Promise<void>): void {
    this.#inflight = p.then(() => {
      this.#inflight = undefined;
      this.#drain();
    });
  }

  /** Drops what waits (the connection is gone) and returns it, for its descriptors. */
  clear(): QueuedCommand[] {
    const dropped = this.#waiting;
    this.#waiting = [];
    this.#bytes = 0;
    return dropped;
  }

  #start(c: QueuedCommand): void {
    const r = this.#run(c);
    if (r !== undefined) this.hold(r);
  }

  #drain(): void {
    while (this.#inflight === undefined && this.#waiting.length !== 0) {
      const c = this.#waiting.shift()!;
      this.#bytes -= c.m.message.length;
      this.#start(c);
    }
    if (this.#inflight === undefined) this.#idle();
  }
}
