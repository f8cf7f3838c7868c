// What both edu drivers do at the register level, their common base class:
// the identification and liveness registers, the factorial unit, the
// interrupt status registers and the DMA engine, over BAR0. The drivers
// differ only in how interrupts are set up and how an interrupt is waited for
// and ended - through the Driver API (driver.ts) or through config writes on
// the PCI-like view (pci-like.ts) - which they implement as the abstract
// methods.

import { setTimeout as sleep } from 'node:timers/promises';
import { fail } from '../../errors.js';
import {
  EDU_DEVICE_ID,
  EDU_DMA_RUN,
  EDU_DMA_TO_RAM,
  EDU_DMA_WITH_IRQ,
  EDU_ID_SIGNATURE,
  EDU_IRQ_DMA,
  EDU_IRQ_FACTORIAL,
  EDU_STATUS_COMPUTING,
  EDU_STATUS_IRQFACT,
  EDU_VENDOR_ID,
  EduReg,
} from '../../hw/edu.js';
import { hex, hexDigits } from '../../util/format.js';

/** How long an edu operation may take before it fails with ETIMEDOUT. */
export interface EduWaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

/** BAR0 as the engine needs it (a Region, or the PCI-like view's BAR). */
export interface EduBar {
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

/** Throws ENODEV unless config space names an edu (both drivers probe with it). */
export function checkEduIds(vendor: number, device: number): void {
  if (vendor !== EDU_VENDOR_ID || device !== EDU_DEVICE_ID) {
    throw fail(
      'ENODEV',
      `not an edu device: ${hexDigits(vendor, 4)}:${hexDigits(device, 4)} (expected ${hexDigits(EDU_VENDOR_ID, 4)}:${hexDigits(EDU_DEVICE_ID, 4)})`,
    );
  }
}

function checkU32(n: number, what = 'n'): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw fail('EINVAL', `${what} must be a 32-bit unsigned integer, got ${n}`);
}

export abstract class EduDriverBase {
  readonly #bar: EduBar;

  constructor(bar: EduBar) {
    this.#bar = bar;
  }

  /** Throws when the driver is closed. */
  protected abstract live(): void;
  /** Throws unless interrupts are set up (and the driver is open). */
  protected abstract needInterrupts(): void;
  /** Waits for the next interrupt (vector 0) for at most `timeoutMs`. */
  protected abstract nextInterrupt(timeoutMs: number): Promise<void>;
  /** After an interrupt was handled (`status`: the bits acknowledged, 0 if none): end it where the scheme needs that. */
  protected abstract interruptHandled(status: number): void;

  /** Throws ENODEV unless the identification register has edu's signature. */
  protected checkIdentification(): void {
    const ident = this.#bar.read32(EduReg.ID);
    if ((ident & 0xffff) !== EDU_ID_SIGNATURE) throw fail('ENODEV', `edu identification register reads ${hex(ident)}`);
  }

  /** The identification register: version major.minor. */
  version(): { major: number; minor: number } {
    const id = this.#bar.read32(EduReg.ID);
    return { major: id >>> 24, minor: (id >>> 16) & 0xff };
  }

  /** Writes `value` to the liveness register and checks that the device inverts it. */
  isAlive(value = 0x5a5aa5a5): boolean {
    this.#bar.write32(EduReg.LIVENESS, value);
    return this.#bar.read32(EduReg.LIVENESS) === ~value >>> 0;
  }

  /** The interrupt status register. */
  interruptStatus(): number {
    return this.#bar.read32(EduReg.IRQ_STATUS);
  }

  /** Raises interrupt bits by software (0x60). */
  raiseInterrupt(bits: number): void {
    this.#bar.write32(EduReg.IRQ_RAISE, bits);
  }

  /** Acknowledges interrupt bits (0x64). */
  ackInterrupt(bits: number): void {
    this.#bar.write32(EduReg.IRQ_ACK, bits);
  }

  /**
   * The interrupt handler loop: waits for interrupts until one of `bits` is
   * reported, acknowledging every status bit seen (and ending the interrupt
   * where the scheme needs that: INTx unmasked once the device has dropped
   * the line). Resolves with the bits acknowledged. Call it before starting
   * the operation, so the interrupt cannot be missed.
   */
  async waitInterrupt(bits: number, options: EduWaitOptions = {}): Promise<number> {
    this.needInterrupts();
    return this.#waitInterrupt(bits, options);
  }

  async #waitInterrupt(bits: number, options: EduWaitOptions): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw fail('ETIMEDOUT', `edu: no interrupt ${hex(bits)} within ${timeoutMs} ms`);
      await this.nextInterrupt(left);
      const status = this.interruptStatus();
      if (status !== 0) this.ackInterrupt(status);
      this.interruptHandled(status);
      seen |= status;
      if (seen & bits) return seen >>> 0;
    }
  }

  /** n! mod 2^32, polling the status register. */
  async factorial(n: number, options: EduWaitOptions = {}): Promise<number> {
    this.live();
    checkU32(n);
    await this.#idle(options);
    this.#bar.write32(EduReg.STATUS, 0); // no interrupt
    this.#bar.write32(EduReg.FACTORIAL, n);
    await this.#waitFor('the factorial', () => (this.#bar.read32(EduReg.STATUS) & EDU_STATUS_COMPUTING) === 0, options);
    return this.#bar.read32(EduReg.FACTORIAL);
  }

  /** n! mod 2^32, completed by the factorial-done interrupt (interrupts set up first). */
  async factorialByInterrupt(n: number, options: EduWaitOptions = {}): Promise<number> {
    this.needInterrupts();
    checkU32(n);
    await this.#idle(options);
    this.#bar.write32(EduReg.STATUS, EDU_STATUS_IRQFACT);
    try {
      const done = this.#waitInterrupt(EDU_IRQ_FACTORIAL, options);
      done.catch(() => undefined); // awaited below; never left unhandled if the write throws
      this.#bar.write32(EduReg.FACTORIAL, n);
      await done;
    } finally {
      this.#bar.write32(EduReg.STATUS, 0);
    }
    return this.#bar.read32(EduReg.FACTORIAL);
  }

  #idle(options: EduWaitOptions): Promise<void> {
    return this.#waitFor('the factorial unit to be idle', () => (this.#bar.read32(EduReg.STATUS) & EDU_STATUS_COMPUTING) === 0, options);
  }

  /**
   * One transfer of the DMA engine between `src` and `dst` (IOVAs and edu
   * buffer addresses, checked by the caller), completed by interrupt or by
   * polling.
   */
  protected async dma(
    src: bigint | number,
    dst: bigint | number,
    count: number,
    toRam: boolean,
    byIrq: boolean,
    options: EduWaitOptions,
  ): Promise<void> {
    this.live();
    await this.#waitFor('the DMA engine to be idle', () => (this.#bar.read32(EduReg.DMA_CMD) & EDU_DMA_RUN) === 0, options);
    // 32-bit writes: every address is below 2^28, a 4-byte write sets the
    // whole 64-bit register, and it works on every path (Linux 6.1's
    // vfio-pci splits an 8-byte pread/pwrite into dwords, and edu ignores
    // the upper one at 0x84).
    this.#bar.write32(EduReg.DMA_SRC, Number(src));
    this.#bar.write32(EduReg.DMA_DST, Number(dst));
    this.#bar.write32(EduReg.DMA_COUNT, count);
    const cmd = EDU_DMA_RUN | (toRam ? EDU_DMA_TO_RAM : 0) | (byIrq ? EDU_DMA_WITH_IRQ : 0);
    if (byIrq) {
      const done = this.#waitInterrupt(EDU_IRQ_DMA, options);
      done.catch(() => undefined);
      this.#bar.write32(EduReg.DMA_CMD, cmd);
      await done;
    } else {
      this.#bar.write32(EduReg.DMA_CMD, cmd);
      await this.#waitFor('the DMA transfer', () => (this.#bar.read32(EduReg.DMA_CMD) & EDU_DMA_RUN) === 0, options);
    }
  }

  /** Polls `cond`, yielding to the event loop (and the device) between reads. */
  async #waitFor(what: string, cond: () => boolean, options: EduWaitOptions): Promise<void> {
    this.live();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; !cond(); i++) {
      if (Date.now() > deadline) throw fail('ETIMEDOUT', `edu: timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(i < 10 ? 0 : 1);
    }
  }
}
