// NVM command set I/O commands (NVMe 1.4, 6): Read, Write, Flush, Write
// Zeroes, Dataset Management (deallocate zeroes the ranges: DLFEAT says
// deallocated blocks read as zeros) and Compare.
//
// Read and Write are the hot path: the PRP walker resolves the segments into
// DMA windows and the backing copies each segment straight between the
// namespace and the client's memory. No allocation beyond the one subarray
// view per segment the memory backing's copy needs.

import { DSM, NVM, RW } from '../../hw/nvme/commands.js';
import type { CommandContext } from './context.js';
import type { Namespace } from './namespace.js';
import { ST } from './status.js';
import type { SubmissionEntry } from './submission-entry.js';

const TWO32 = 4294967296;

export function executeIo(c: CommandContext, cmd: SubmissionEntry): number {
  if (cmd.fuse !== 0 || cmd.psdt !== 0) return ST.INVALID_FIELD;
  switch (cmd.opc) {
    case NVM.READ:
      return readWrite(c, cmd, false);
    case NVM.WRITE:
      return readWrite(c, cmd, true);
    case NVM.FLUSH:
      return flush(c, cmd);
    case NVM.WRITE_ZEROES:
      return writeZeroes(c, cmd);
    case NVM.DATASET_MANAGEMENT:
      return datasetManagement(c, cmd);
    case NVM.COMPARE:
      return compare(c, cmd);
    default:
      return ST.INVALID_OPCODE;
  }
}

/** Where lbaRange puts the namespace and byte range (one object, reused: the I/O path allocates nothing). */
const range: { ns: Namespace | undefined; offset: number; len: number } = { ns: undefined, offset: 0, len: 0 };

/** The namespace and blocks (SLBA in CDW10-11, 0's based NLB in CDW12) of an LBA command into `range`: 0, or the status refusing them. */
function lbaRange(c: CommandContext, cmd: SubmissionEntry): number {
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  const slba = cmd.cdw10 + cmd.cdw11 * TWO32;
  const nlb = (cmd.cdw12 & RW.NLB_MASK) + 1;
  if (slba + nlb > ns.blocks) return ST.LBA_OUT_OF_RANGE;
  range.ns = ns;
  range.offset = slba * ns.lbaSize;
  range.len = nlb * ns.lbaSize;
  return 0;
}

function readWrite(c: CommandContext, cmd: SubmissionEntry, write: boolean): number {
  const refused = lbaRange(c, cmd);
  if (refused !== 0) return refused;
  const ns = range.ns!;
  const { offset, len } = range;
  if (len > c.maxTransfer) return ST.INVALID_FIELD;
  if (write && ns.readOnly) return ST.NAMESPACE_WRITE_PROTECTED;
  const prp = c.prp;
  const st = prp.walk(cmd.prp1, cmd.prp2, len, !write);
  if (st !== 0) return st;
  const backing = ns.backing;
  let pos = offset;
  const count = prp.count;
  const addr = prp.addr;
  const lens = prp.len;
  const wins = prp.win;
  for (let i = 0; i < count; i++) {
    const w = wins[i]!;
    const n = lens[i]!;
    if (write) backing.write(w.bytes, addr[i]! - w.start, pos, n);
    else backing.read(w.bytes, addr[i]! - w.start, pos, n);
    pos += n;
  }
  const h = c.health;
  if (write) {
    h.writeCommands++;
    h.bytesWritten += len;
    if (writeThrough(c, cmd, ns)) backing.flush();
  } else {
    h.readCommands++;
    h.bytesRead += len;
  }
  return 0;
}

/** A write to a file reaches the disk now when the write cache is off or the command has FUA. */
function writeThrough(c: CommandContext, cmd: SubmissionEntry, ns: Namespace): boolean {
  return ns.backing.kind === 'file' && (!c.features.writeCacheEnabled || (cmd.cdw12 & RW.FUA) !== 0);
}

function flush(c: CommandContext, cmd: SubmissionEntry): number {
  if (cmd.nsid === 0xffffffff) {
    for (const ns of c.namespaces) ns.backing.flush();
    return 0;
  }
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  ns.backing.flush();
  return 0;
}

function writeZeroes(c: CommandContext, cmd: SubmissionEntry): number {
  const refused = lbaRange(c, cmd);
  if (refused !== 0) return refused;
  const ns = range.ns!;
  const { offset, len } = range;
  if (ns.readOnly) return ST.NAMESPACE_WRITE_PROTECTED;
  ns.backing.zero(offset, len);
  if (writeThrough(c, cmd, ns)) ns.backing.flush();
  return 0;
}

function datasetManagement(c: CommandContext, cmd: SubmissionEntry): number {
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  const nr = (cmd.cdw10 & 0xff) + 1;
  const b = c.scratch;
  const st = c.fromHost(cmd, b, nr * DSM.RANGE_SIZE);
  if (st !== 0) return st;
  if ((cmd.cdw11 & DSM.AD) === 0) return 0; // integral read/write hints: nothing to do
  if (ns.readOnly) return ST.NAMESPACE_WRITE_PROTECTED;
  const v = new DataView(b.buffer, b.byteOffset, nr * DSM.RANGE_SIZE);
  for (let i = 0; i < nr; i++) if (rangeSlba(v, i) + rangeBlocks(v, i) > ns.blocks) return ST.LBA_OUT_OF_RANGE;
  for (let i = 0; i < nr; i++) {
    const n = rangeBlocks(v, i);
    if (n > 0) deallocate(ns, rangeSlba(v, i), n);
  }
  return 0;
}

function rangeBlocks(v: DataView, i: number): number {
  return v.getUint32(DSM.RANGE_SIZE * i + DSM.RANGE_NLB, true);
}

function rangeSlba(v: DataView, i: number): number {
  const o = DSM.RANGE_SIZE * i + DSM.RANGE_SLBA;
  return v.getUint32(o, true) + v.getUint32(o + 4, true) * TWO32;
}

function deallocate(ns: Namespace, slba: number, n: number): void {
  ns.backing.zero(slba * ns.lbaSize, n * ns.lbaSize);
}

let compareBuffer: Uint8Array | undefined;

function compare(c: CommandContext, cmd: SubmissionEntry): number {
  const refused = lbaRange(c, cmd);
  if (refused !== 0) return refused;
  const ns = range.ns!;
  const { offset, len } = range;
  if (len > c.maxTransfer) return ST.INVALID_FIELD;
  const host = c.scratch;
  const st = c.fromHost(cmd, host, len);
  if (st !== 0) return st;
  if (compareBuffer === undefined || compareBuffer.length < len) compareBuffer = new Uint8Array(c.maxTransfer);
  ns.backing.read(compareBuffer, 0, offset, len);
  for (let i = 0; i < len; i++) if (host[i] !== compareBuffer[i]) return ST.COMPARE_FAILURE;
  return 0;
}
