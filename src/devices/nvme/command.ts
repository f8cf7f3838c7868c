// A submission queue entry as the controller decodes it (NVMe 1.4, 4.2):
// one preallocated object refilled for every command, so the I/O path
// allocates nothing. PRP entries are JS numbers (exact below 2^53).

const TWO32 = 4294967296;

export class Command {
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
    this.fuse = (d0 >>> 8) & 3;
    this.psdt = (d0 >>> 14) & 3;
    this.cid = d0 >>> 16;
    this.nsid = dw[i + 1]!;
    this.prp1 = dw[i + 6]! + dw[i + 7]! * TWO32;
    this.prp2 = dw[i + 8]! + dw[i + 9]! * TWO32;
    this.cdw10 = dw[i + 10]!;
    this.cdw11 = dw[i + 11]!;
    this.cdw12 = dw[i + 12]!;
    this.cdw13 = dw[i + 13]!;
    this.cdw14 = dw[i + 14]!;
    this.cdw15 = dw[i + 15]!;
    this.sqid = sqid;
    this.result = 0;
  }
}

/** A handler's answer meaning "no completion now" (Asynchronous Event Request). */
export const DEFERRED = -1;
