// The controller registers (NVMe 1.4, 3.1) and the CC/CSTS state machine:
// CC.EN 0->1 validates AQA/ASQ/ACQ, CC.MPS and CC.CSS and sets CSTS.RDY (or
// CSTS.CFS for a bad configuration); CC.EN 1->0 is a controller reset; CC.SHN
// requests a shutdown (CSTS.SHST reads "complete" at once). What those
// transitions do to queues and namespaces is the model's: it is told through
// hooks.

import { AQA, CAP, CC, ccAms, ccCss, ccMps, ccShn, CSTS, NVME_VERSION_1_4, REG } from '../../hw/nvme/regs.js';
import { REGISTERS_END } from './bar.js';

const TWO32 = 0x1_0000_0000;
const MPSMIN = 0; // 4 KiB
const MPSMAX = 4; // 64 KiB
const TIMEOUT_500MS = 20; // CAP.TO: 10 s

export interface RegisterHooks {
  /** CC.EN 1->0: the controller resets (`unsafe`: no shutdown was requested before). */
  disabled(unsafe: boolean): void;
  /** CC.EN 0->1 with a valid configuration (RDY is set): admin queues of these sizes, memory pages of this size. */
  enabled(asqEntries: number, acqEntries: number, pageSize: number): void;
  /** CC.SHN went non-zero: the model makes data durable; SHST reads complete afterwards. */
  shutdown(): void;
  /** CC.SHN went back to 0. */
  shutdownCleared(): void;
  /** INTMC cleared mask bits. */
  unmasked(): void;
}

export class ControllerRegisters {
  readonly capLo: number;
  readonly capHi: number;
  cc = 0;
  csts = 0;
  aqa = 0;
  asq = 0;
  acq = 0;
  intms = 0;
  readonly #hooks: RegisterHooks;

  constructor(maxQueueEntries: number, hooks: RegisterHooks) {
    // CAP: MQES, CQR, TO, DSTRD 0, CSS NVM, MPSMIN/MPSMAX.
    const cap =
      (BigInt(maxQueueEntries - 1) << BigInt(CAP.MQES_SHIFT)) |
      (1n << BigInt(CAP.CQR_SHIFT)) |
      (BigInt(TIMEOUT_500MS) << BigInt(CAP.TO_SHIFT)) |
      (1n << BigInt(CAP.CSS_SHIFT)) |
      (BigInt(MPSMIN) << BigInt(CAP.MPSMIN_SHIFT)) |
      (BigInt(MPSMAX) << BigInt(CAP.MPSMAX_SHIFT));
    this.capLo = Number(cap & 0xffffffffn);
    this.capHi = Number(cap >> 32n);
    this.#hooks = hooks;
  }

  get cap(): bigint {
    return (BigInt(this.capHi) << 32n) | BigInt(this.capLo);
  }

  /** Memory page size from CC.MPS. */
  get pageSize(): number {
    return 4096 << ccMps(this.cc);
  }

  get ready(): boolean {
    return (this.csts & CSTS.RDY) !== 0;
  }

  get fatal(): boolean {
    return (this.csts & CSTS.CFS) !== 0;
  }

  /** A shutdown was requested (and completed): queues are not processed. */
  get shutDown(): boolean {
    return (this.csts & CSTS.SHST_MASK) !== 0;
  }

  /** INTx masked by INTMS bit 0. */
  get intxMasked(): boolean {
    return (this.intms & 1) !== 0;
  }

  /** Controller Fatal Status. */
  setFatal(): void {
    this.csts |= CSTS.CFS;
  }

  /** Everything back to the reset value (a function reset or a new owner). */
  clear(): void {
    this.aqa = 0;
    this.asq = 0;
    this.acq = 0;
    this.cc = 0;
    this.csts = 0;
    this.intms = 0;
  }

  #dword(off: number): number {
    switch (off) {
      case REG.CAP:
        return this.capLo;
      case REG.CAP + 4:
        return this.capHi;
      case REG.VS:
        return NVME_VERSION_1_4;
      case REG.INTMS:
      case REG.INTMC:
        return this.intms;
      case REG.CC:
        return this.cc;
      case REG.CSTS:
        return this.csts;
      case REG.AQA:
        return this.aqa;
      case REG.ASQ:
        return this.asq % TWO32;
      case REG.ASQ + 4:
        return Math.floor(this.asq / TWO32);
      case REG.ACQ:
        return this.acq % TWO32;
      case REG.ACQ + 4:
        return Math.floor(this.acq / TWO32);
      default:
        return 0;
    }
  }

  /** A read of BAR0 at `offset` (any size; reserved bytes read 0). */
  read(offset: number, dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i++) {
      const at = offset + i;
      dst[i] = at < REGISTERS_END ? (this.#dword(at & ~3) >>> (8 * (at & 3))) & 0xff : 0;
    }
  }

  /** A write of BAR0 at `offset`: merged into whole dwords, each then written. */
  write(offset: number, src: Uint8Array): void {
    const end = offset + src.length;
    for (let d = offset & ~3; d < end && d < REGISTERS_END; d += 4) {
      const w1c = d === REG.INTMS || d === REG.INTMC;
      let v = w1c ? 0 : this.#dword(d);
      for (let b = 0; b < 4; b++) {
        const at = d + b;
        if (at < offset || at >= end) continue;
        v = (v & ~(0xff << (8 * b))) | (src[at - offset]! << (8 * b));
      }
      this.#set(d, v >>> 0);
    }
  }

  #set(off: number, v: number): void {
    switch (off) {
      case REG.INTMS:
        this.intms = (this.intms | v) >>> 0;
        return;
      case REG.INTMC:
        this.intms = (this.intms & ~v) >>> 0;
        this.#hooks.unmasked();
        return;
      case REG.CC:
        this.#writeCc(v);
        return;
      case REG.AQA:
        this.aqa = v & ((AQA.ASQS_MASK << AQA.ACQS_SHIFT) | AQA.ASQS_MASK);
        return;
      case REG.ASQ:
        this.asq = Math.floor(this.asq / TWO32) * TWO32 + ((v & ~0xfff) >>> 0);
        return;
      case REG.ASQ + 4:
        this.asq = v * TWO32 + (this.asq % TWO32);
        return;
      case REG.ACQ:
        this.acq = Math.floor(this.acq / TWO32) * TWO32 + ((v & ~0xfff) >>> 0);
        return;
      case REG.ACQ + 4:
        this.acq = v * TWO32 + (this.acq % TWO32);
        return;
      default:
        return; // read-only or reserved: the write is dropped
    }
  }

  #writeCc(v: number): void {
    const old = this.cc;
    const wasEnabled = (old & CC.EN) !== 0;
    const enable = (v & CC.EN) !== 0;
    if (wasEnabled && !enable) {
      // Controller reset: queues deleted, registers other than AQA/ASQ/ACQ back to their reset values.
      this.#hooks.disabled(ccShn(old) === 0 && (this.csts & CSTS.SHST_MASK) === 0);
      this.cc = v >>> 0;
      this.csts = 0;
      return;
    }
    if (wasEnabled) {
      // While enabled only IOSQES, IOCQES and SHN may change.
      const keep = ~((0xf << CC.IOSQES_SHIFT) | (0xf << CC.IOCQES_SHIFT) | CC.SHN_MASK);
      this.cc = ((old & keep) | (v & ~keep)) >>> 0;
    } else {
      this.cc = v >>> 0;
    }
    const shnOld = ccShn(old);
    const shnNew = ccShn(this.cc);
    if (shnNew !== 0 && shnOld === 0) {
      this.#hooks.shutdown();
      this.csts = (this.csts & ~CSTS.SHST_MASK) | CSTS.SHST_COMPLETE;
    } else if (shnNew === 0 && shnOld !== 0) {
      this.csts &= ~CSTS.SHST_MASK;
      this.#hooks.shutdownCleared();
    }
    if (!wasEnabled && enable) this.#enable();
  }

  #enable(): void {
    const asqs = (this.aqa & AQA.ASQS_MASK) + 1;
    const acqs = ((this.aqa >>> AQA.ACQS_SHIFT) & AQA.ASQS_MASK) + 1;
    const mps = ccMps(this.cc);
    const ps = 4096 << mps;
    const bad =
      asqs < 2 ||
      acqs < 2 ||
      mps < MPSMIN ||
      mps > MPSMAX ||
      ccCss(this.cc) !== 0 ||
      ccAms(this.cc) !== 0 ||
      this.asq === 0 ||
      this.acq === 0 ||
      this.asq % ps !== 0 ||
      this.acq % ps !== 0;
    if (bad) {
      this.csts |= CSTS.CFS;
      return;
    }
    this.csts = (this.csts & ~CSTS.CFS) | CSTS.RDY;
    this.#hooks.enabled(asqs, acqs, ps);
  }
}
