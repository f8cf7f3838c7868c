// Shared by the PCI-like view tests: waiting without timing assertions, and
// collecting a view's interrupts.

import { setImmediate as tick } from 'node:timers/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PciLikeDevice, PciLikeInterrupt } from '../../src/client/pci-like/index.js';

/** Polls `cond` (yielding to the event loop) until it holds; fails after `timeoutMs`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await (i < 20 ? tick() : sleep(1));
  }
}

/** Lets the event loop run `turns` times (eventfd watchers included). */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await tick();
  await sleep(5);
}

/** Records every interrupt the view delivers. */
export function recordInterrupts(pci: PciLikeDevice): PciLikeInterrupt[] {
  const seen: PciLikeInterrupt[] = [];
  pci.on('interrupt', (ev) => seen.push(ev));
  return seen;
}
