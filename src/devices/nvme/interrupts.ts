// Completion interrupts: after a round, one per completion queue that
// received entries and has IEN set - the queue's MSI-X vector, or INTx when
// that is the mode. INTx is a level: asserted while an interrupt-enabled CQ
// holds entries the host has not consumed, and INTMS bit 0 masks it.

import type { VirtualDevice } from '../../server/index.js';
import type { QueueSet } from './queues.js';

export class CompletionInterrupts {
  device: VirtualDevice | undefined;
  readonly #queues: QueueSet;
  readonly #intxMasked: () => boolean;
  /** Counts the interrupts delivered. */
  readonly #stats: { interrupts: number };

  constructor(queues: QueueSet, intxMasked: () => boolean, stats: { interrupts: number }) {
    this.#queues = queues;
    this.#intxMasked = intxMasked;
    this.#stats = stats;
  }

  /** Signals every completion queue with new entries. */
  raise(): void {
    const irq = this.device!.irq;
    const mode = irq.mode;
    const list = this.#queues.cqList;
    for (let i = 0; i < list.length; i++) {
      const cq = list[i]!;
      if (!cq.irqPending) continue;
      cq.irqPending = false;
      if (!cq.ien) continue;
      if (mode === 'msix') {
        irq.msix(cq.vector);
        this.#stats.interrupts++;
      } else if (mode === 'intx' && !this.#intxMasked()) {
        if (irq.setIntx(true) === 'delivered') this.#stats.interrupts++;
      }
    }
  }

  /** Sets the INTx level from the queues (heads re-read from the doorbells). */
  updateIntx(): void {
    const irq = this.device?.irq;
    if (irq?.mode !== 'intx') return;
    let level = false;
    if (!this.#intxMasked()) {
      for (const cq of this.#queues.cqList) {
        if (!cq.ien) continue;
        this.#queues.refreshCqHead(cq);
        if (cq.head !== cq.tail) level = true;
      }
    }
    if (level !== irq.intxAsserted) irq.setIntx(level);
  }

  /** Drops the INTx level (controller reset). */
  deassert(): void {
    if (this.device?.irq.intxAsserted) this.device.irq.setIntx(false);
  }
}
