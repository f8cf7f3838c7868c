// A submission queue entry as the controller decodes it (NVMe 1.4, 4.2;
// layout in src/hw/nvme/entries.ts): one preallocated object refilled for
// every command, so the I/O path allocates nothing. PRP entries are JS
// numbers (exact below 2^53).

import { SQE, SQE_CDW0 } from '../../hw/nvme/entries.js';

const TWO32 = 4294967296;
// Dword indices of the fields in the ring.
const NSID = SQE.NSID >>> 2;
const PRP1 = SQE.PRP1 >>> 2;
const PRP2 = SQE.PRP2 >>> 2;
const CDW10 = SQE.CDW10 >>> 2;
/** Dwords of one entry. */
export const SQE_DWORDS = SQE.SIZE >>> 2;

export class SubmissionEntry {
  opc = 0;
  fuse = 0;
  psdt = 0;
  cid = 0;
  nsid = 0;
  prp1 = 0;
  prp2 = 0;
  cdw10 = 0;
  cdw11 = 0;
  cdw12 = 0;
  cdw13 = 0;
  cdw14 = 0;
  cdw15 = 0;
  /** The queue it came from. */
  sqid = 0;
  /** Completion dword 0 (command specific result). */
  result = 0;

  /** Loads the entry at dword index `i` of a submission queue ring. */
  load(dw: Uint32Array, i: number, sqid: number): void {
    const d0 = dw[i]!;
    this.opc = d0 & 0xff;
    this.fuse = (d0 >>> SQE_CDW0.FUSE_SHIFT) & 3;
    this.psdt = (d0 >>> SQE_CDW0.PSDT_SHIFT) & 3;
    this.cid = d0 >>> SQE_CDW0.CID_SHIFT;
    this.nsid = dw[i + NSID]!;
    this.prp1 = dw[i + PRP1]! + dw[i + PRP1 + 1]! * TWO32;
    this.prp2 = dw[i + PRP2]! + dw[i + PRP2 + 1]! * TWO32;
    this.cdw10 = dw[i + CDW10]!;
    this.cdw11 = dw[i + CDW10 + 1]!;
    this.cdw12 = dw[i + CDW10 + 2]!;
    this.cdw13 = dw[i + CDW10 + 3]!;
    this.cdw14 = dw[i + CDW10 + 4]!;
    this.cdw15 = dw[i + CDW10 + 5]!;
    this.sqid = sqid;
    this.result = 0;
  }
}

/** A handler's answer meaning "no completion now" (Asynchronous Event Request). */
export const DEFERRED = -1;
