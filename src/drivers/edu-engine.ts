// What both edu drivers do at the register level: the identification and
// liveness registers, the factorial unit, the interrupt status registers and
// the DMA engine, over BAR0. The drivers differ only in how interrupts are
// set up and how an interrupt is waited for and ended - through the Driver
// API (edu.ts) or through config writes on the PCI-like view
// (edu-pci-like.ts) - which they hand in as hooks.

import { setTimeout as sleep } from 'node:timers/promises';
import { fail } from '../errors.js';

/** edu's BAR0 registers and their bits, as a driver uses them. */
export const REG = {
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
} as const;

export const STATUS_COMPUTING = 0x01;
export const STATUS_IRQFACT = 0x80;
export const EDU_IRQ_FACTORIAL = 0x001;
export const EDU_IRQ_DMA = 0x100;
export const DMA_RUN = 0x1;
export const DMA_TO_RAM = 0x2;
export const DMA_WITH_IRQ = 0x4;

export interface EduWaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

/** BAR0 as the engine needs it (a Region, or the PCI-like view's BAR). */
export interface EduBar {
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

export interface EduEngineHooks {
  /** Throws when the driver is closed. */
  live(): void;
  /** Waits for the next interrupt (vector 0) for at most `timeoutMs`. */
  nextInterrupt(timeoutMs: number): Promise<void>;
  /** After an interrupt was handled (`status`: the bits acknowledged, 0 if none): end it where the scheme needs that. */
  interruptHandled(status: number): void;
}

export function checkU32(n: number, what = 'n'): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw fail('EINVAL', `${what} must be a 32-bit unsigned integer, got ${n}`);
}

export class EduEngine {
  readonly #bar: EduBar;
  readonly #hooks: EduEngineHooks;

  constructor(bar: EduBar, hooks: EduEngineHooks) {
    this.#bar = bar;
    this.#hooks = hooks;
  }

  /** The identification register: version major.minor. */
  version(): { major: number; minor: number } {
    const id = this.#bar.read32(REG.ID);
    return { major: id >>> 24, minor: (id >>> 16) & 0xff };
  }

  /** Writes `value` to the liveness register and checks that the device inverts it. */
  isAlive(value = 0x5a5aa5a5): boolean {
    this.#bar.write32(REG.LIVENESS, value);
    return this.#bar.read32(REG.LIVENESS) === ~value >>> 0;
  }

  interruptStatus(): number {
    return this.#bar.read32(REG.IRQ_STATUS);
  }

  raiseInterrupt(bits: number): void {
    this.#bar.write32(REG.IRQ_RAISE, bits);
  }

  ackInterrupt(bits: number): void {
    this.#bar.write32(REG.IRQ_ACK, bits);
  }

  /**
   * The interrupt handler loop: waits for interrupts until one of `bits` is
   * reported, acknowledging every status bit seen. Resolves with the bits
   * acknowledged. Call it before starting the operation, so the interrupt
   * cannot be missed.
   */
  async waitInterrupt(bits: number, options: EduWaitOptions = {}): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw fail('ETIMEDOUT', `edu: no interrupt 0x${bits.toString(16)} within ${timeoutMs} ms`);
      await this.#hooks.nextInterrupt(left);
      const status = this.interruptStatus();
      if (status !== 0) this.ackInterrupt(status);
      this.#hooks.interruptHandled(status);
      seen |= status;
      if (seen & bits) return seen >>> 0;
    }
  }

  /** n! mod 2^32, polling the status register. */
  async factorial(n: number, options: EduWaitOptions = {}): Promise<number> {
    checkU32(n);
    await this.#idle(options);
    this.#bar.write32(REG.STATUS, 0); // no interrupt
    this.#bar.write32(REG.FACTORIAL, n);
    await this.waitFor('the factorial', () => (this.#bar.read32(REG.STATUS) & STATUS_COMPUTING) === 0, options);
    return this.#bar.read32(REG.FACTORIAL);
  }

  /** n! mod 2^32, completed by the factorial-done interrupt (the caller checked that interrupts are on). */
  async factorialByInterrupt(n: number, options: EduWaitOptions = {}): Promise<number> {
    checkU32(n);
    await this.#idle(options);
    this.#bar.write32(REG.STATUS, STATUS_IRQFACT);
    try {
      const done = this.waitInterrupt(EDU_IRQ_FACTORIAL, options);
      done.catch(() => undefined); // awaited below; never left unhandled if the write throws
      this.#bar.write32(REG.FACTORIAL, n);
      await done;
    } finally {
      this.#bar.write32(REG.STATUS, 0);
    }
    return this.#bar.read32(REG.FACTORIAL);
  }

  #idle(options: EduWaitOptions): Promise<void> {
    return this.waitFor('the factorial unit to be idle', () => (this.#bar.read32(REG.STATUS) & STATUS_COMPUTING) === 0, options);
  }

  /**
   * One transfer of the DMA engine between `src` and `dst` (IOVAs and edu
   * buffer addresses, checked by the caller), completed by interrupt or by
   * polling.
   */
  async dma(src: bigint | number, dst: bigint | number, count: number, toRam: boolean, byIrq: boolean, options: EduWaitOptions): Promise<void> {
    await this.waitFor('the DMA engine to be idle', () => (this.#bar.read32(REG.DMA_CMD) & DMA_RUN) === 0, options);
    // 32-bit writes: every address is below 2^28, a 4-byte write sets the
    // whole 64-bit register, and it works on every path (Linux 6.1's
    // vfio-pci splits an 8-byte pread/pwrite into dwords, and edu ignores
    // the upper one at 0x84).
    this.#bar.write32(REG.DMA_SRC, Number(src));
    this.#bar.write32(REG.DMA_DST, Number(dst));
    this.#bar.write32(REG.DMA_COUNT, count);
    const cmd = DMA_RUN | (toRam ? DMA_TO_RAM : 0) | (byIrq ? DMA_WITH_IRQ : 0);
    if (byIrq) {
      const done = this.waitInterrupt(EDU_IRQ_DMA, options);
      done.catch(() => undefined);
      this.#bar.write32(REG.DMA_CMD, cmd);
      await done;
    } else {
      this.#bar.write32(REG.DMA_CMD, cmd);
      await this.waitFor('the DMA transfer', () => (this.#bar.read32(REG.DMA_CMD) & DMA_RUN) === 0, options);
    }
  }

  /** Polls `cond`, yielding to the event loop (and the device) between reads. */
  async waitFor(what: string, cond: () => boolean, options: EduWaitOptions): Promise<void> {
    this.#hooks.live();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; !cond(); i++) {
      if (Date.now() > deadline) throw fail('ETIMEDOUT', `edu: timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(i < 10 ? 0 : 1);
    }
  }
}
