// NVM command set I/O commands (NVMe 1.4, 6): Read, Write, Flush, Write
// Zeroes, Dataset Management (deallocate zeroes the ranges: DLFEAT says
// deallocated blocks read as zeros) and Compare.
//
// Read and Write are the hot path: the PRP walker resolves the segments into
// DMA windows and the backing copies each segment straight between the
// namespace and the client's memory. No allocation beyond the one subarray
// view per segment the memory backing's copy needs.

import type { Command } from './command.js';
import type { NvmeController } from './controller.js';
import type { Namespace } from './namespace.js';
import { NVM_COMPARE, NVM_DSM, NVM_FLUSH, NVM_READ, NVM_WRITE, NVM_WRITE_ZEROES } from './regs.js';
import { ST } from './status.js';

const TWO32 = 4294967296;
const FUA = 1 << 30;

export function executeIo(c: NvmeController, cmd: Command): number {
  if (cmd.fuse !== 0 || cmd.psdt !== 0) return ST.INVALID_FIELD;
  switch (cmd.opc) {
    case NVM_READ:
      return readWrite(c, cmd, false);
    case NVM_WRITE:
      return readWrite(c, cmd, true);
    case NVM_FLUSH:
      return flush(c, cmd);
    case NVM_WRITE_ZEROES:
      return writeZeroes(c, cmd);
    case NVM_DSM:
      return datasetManagement(c, cmd);
    case NVM_COMPARE:
      return compare(c, cmd);
    default:
      return ST.INVALID_OPCODE;
  }
}

function readWrite(c: NvmeController, cmd: Command, write: boolean): number {
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  const slba = cmd.cdw10 + cmd.cdw11 * TWO32;
  const nlb = (cmd.cdw12 & 0xffff) + 1;
  if (slba + nlb > ns.blocks) return ST.LBA_OUT_OF_RANGE;
  const len = nlb * ns.lbaSize;
  if (len > c.maxTransfer) return ST.INVALID_FIELD;
  if (write && ns.readOnly) return ST.NS_WRITE_PROTECTED;
  const prp = c.prp!;
  const st = prp.walk(cmd.prp1, cmd.prp2, len, !write);
  if (st !== 0) return st;
  const backing = ns.backing;
  let pos = slba * ns.lbaSize;
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
    if (backing.kind === 'file' && (!c.features.writeCacheEnabled || (cmd.cdw12 & FUA) !== 0)) backing.flush();
  } else {
    h.readCommands++;
    h.bytesRead += len;
  }
  return 0;
}

function flush(c: NvmeController, cmd: Command): number {
  if (cmd.nsid === 0xffffffff) {
    for (const ns of c.namespaces) ns.backing.flush();
    return 0;
  }
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  ns.backing.flush();
  return 0;
}

function writeZeroes(c: NvmeController, cmd: Command): number {
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  const slba = cmd.cdw10 + cmd.cdw11 * TWO32;
  const nlb = (cmd.cdw12 & 0xffff) + 1;
  if (slba + nlb > ns.blocks) return ST.LBA_OUT_OF_RANGE;
  if (ns.readOnly) return ST.NS_WRITE_PROTECTED;
  ns.backing.zero(slba * ns.lbaSize, nlb * ns.lbaSize);
  if (ns.backing.kind === 'file' && (!c.features.writeCacheEnabled || (cmd.cdw12 & FUA) !== 0)) ns.backing.flush();
  return 0;
}

const DSM_AD = 1 << 2;

function datasetManagement(c: NvmeController, cmd: Command): number {
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  const nr = (cmd.cdw10 & 0xff) + 1;
  const b = c.scratch;
  const st = c.fromHost(cmd, b, nr * 16);
  if (st !== 0) return st;
  if ((cmd.cdw11 & DSM_AD) === 0) return 0; // integral read/write hints: nothing to do
  if (ns.readOnly) return ST.NS_WRITE_PROTECTED;
  const v = new DataView(b.buffer, b.byteOffset, nr * 16);
  for (let i = 0; i < nr; i++) {
    const n = v.getUint32(16 * i + 4, true);
    const slba = v.getUint32(16 * i + 8, true) + v.getUint32(16 * i + 12, true) * TWO32;
    if (slba + n > ns.blocks) return ST.LBA_OUT_OF_RANGE;
  }
  for (let i = 0; i < nr; i++) {
    const n = v.getUint32(16 * i + 4, true);
    const slba = v.getUint32(16 * i + 8, true) + v.getUint32(16 * i + 12, true) * TWO32;
    if (n > 0) deallocate(ns, slba, n);
  }
  return 0;
}

function deallocate(ns: Namespace, slba: number, n: number): void {
  ns.backing.zero(slba * ns.lbaSize, n * ns.lbaSize);
}

let compareBuffer: Uint8Array | undefined;

function compare(c: NvmeController, cmd: Command): number {
  const ns = c.namespace(cmd.nsid);
  if (ns === undefined) return ST.INVALID_NAMESPACE;
  const slba = cmd.cdw10 + cmd.cdw11 * TWO32;
  const nlb = (cmd.cdw12 & 0xffff) + 1;
  if (slba + nlb > ns.blocks) return ST.LBA_OUT_OF_RANGE;
  const len = nlb * ns.lbaSize;
  if (len > c.maxTransfer) return ST.INVALID_FIELD;
  const host = c.scratch;
  const st = c.fromHost(cmd, host, len);
  if (st !== 0) return st;
  if (compareBuffer === undefined || compareBuffer.length < len) compareBuffer = new Uint8Array(c.maxTransfer);
  ns.backing.read(compareBuffer, 0, slba * ns.lbaSize, len);
  for (let i = 0; i < len; i++) if (host[i] !== compareBuffer[i]) return ST.COMPARE_FAILURE;
  return 0;
}
