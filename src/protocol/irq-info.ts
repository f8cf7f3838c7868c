// VFIO_USER_DEVICE_GET_IRQ_INFO: one interrupt type's vector count and
// abilities (struct vfio_irq_info).
//
// Payload (16 bytes, request and reply):
//   0 u32 argsz  4 u32 flags  8 u32 index  12 u32 count
// Request: argsz is the room for the reply (at least 16), index the interrupt
// type (PCI: INTx 0, MSI 1, MSI-X 2, ERR 3, REQ 4), flags and count zero.
// Reply: argsz 16, flags EVENTFD 1 / MASKABLE 2 / AUTOMASKED 4 / NORESIZE 8,
// count = vectors of that type.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import { checkU32, readU32, requireLength, requireNoFds, requireZero, writeU32 } from './wire.js';
import { irqInfoFlags, pciIrq } from '../uapi/vfio.js';

export const IRQ_INFO_SIZE = 16;

export const IRQ_INFO_EVENTFD = irqInfoFlags.EVENTFD;
export const IRQ_INFO_MASKABLE = irqInfoFlags.MASKABLE;
export const IRQ_INFO_AUTOMASKED = irqInfoFlags.AUTOMASKED;
export const IRQ_INFO_NORESIZE = irqInfoFlags.NORESIZE;
const IRQ_INFO_FLAGS = 0xf;

export const PCI_INTX_IRQ_INDEX = pciIrq.INTX;
export const PCI_MSI_IRQ_INDEX = pciIrq.MSI;
export const PCI_MSIX_IRQ_INDEX = pciIrq.MSIX;
export const PCI_ERR_IRQ_INDEX = pciIrq.ERR;
export const PCI_REQ_IRQ_INDEX = pciIrq.REQ;

export interface IrqInfoRequest {
  argsz: number;
  index: number;
}

export interface IrqInfo {
  flags: number;
  index: number;
  count: number;
}

export interface IrqInfoReply extends IrqInfo {
  argsz: number;
}

export function encodeIrqInfoRequest(msgId: number, index: number, argsz = IRQ_INFO_SIZE, flags = 0): Buffer {
  checkU32(index, 'irq index');
  checkU32(argsz, 'DEVICE_GET_IRQ_INFO argsz');
  if (argsz < IRQ_INFO_SIZE) throw fail('EINVAL', `DEVICE_GET_IRQ_INFO: argsz ${argsz} is below ${IRQ_INFO_SIZE}`);
  const b = newCommand(msgId, Command.DEVICE_GET_IRQ_INFO, IRQ_INFO_SIZE, flags);
  writeU32(b, HEADER_SIZE, argsz);
  writeU32(b, HEADER_SIZE + 8, index);
  return b;
}

/** 16 bytes; argsz at least 16; flags and count zero; index below `numIrqs` when given. EINVAL otherwise. */
export function decodeIrqInfoRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  opts: { numIrqs?: number } = {},
): IrqInfoRequest {
  requireNoFds(fds, 'DEVICE_GET_IRQ_INFO');
  requireLength(p, IRQ_INFO_SIZE, 'DEVICE_GET_IRQ_INFO');
  const argsz = readU32(p, 0);
  if (argsz < IRQ_INFO_SIZE) {
    throw fail('EINVAL', `DEVICE_GET_IRQ_INFO: argsz ${argsz} is smaller than the ${IRQ_INFO_SIZE}-byte reply`);
  }
  requireZero(readU32(p, 4), 'DEVICE_GET_IRQ_INFO flags');
  const index = readU32(p, 8);
  requireZero(readU32(p, 12), 'DEVICE_GET_IRQ_INFO count');
  if (opts.numIrqs !== undefined && index >= opts.numIrqs) {
    throw fail('EINVAL', `DEVICE_GET_IRQ_INFO: irq index ${index} out of range (${opts.numIrqs} types)`);
  }
  return { argsz, index };
}

export function decodeIrqInfoRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  opts: { numIrqs?: number } = {},
): IrqInfoRequest {
  return decodeIrqInfoRequestPayload(openCommand(message, Command.DEVICE_GET_IRQ_INFO).payload, fds, opts);
}

export function encodeIrqInfoReply(msgId: number, info: IrqInfo): Buffer {
  checkU32(info.flags, 'irq flags');
  if (info.flags & ~IRQ_INFO_FLAGS) throw fail('EINVAL', `unknown irq info flags 0x${info.flags.toString(16)}`);
  checkU32(info.index, 'irq index');
  checkU32(info.count, 'irq count');
  const b = newReply(msgId, Command.DEVICE_GET_IRQ_INFO, IRQ_INFO_SIZE);
  writeU32(b, HEADER_SIZE, IRQ_INFO_SIZE);
  writeU32(b, HEADER_SIZE + 4, info.flags);
  writeU32(b, HEADER_SIZE + 8, info.index);
  writeU32(b, HEADER_SIZE + 12, info.count);
  return b;
}

/** 16 bytes, argsz at least 16, known flags only, the asked-for index when given. EINVAL otherwise. */
export function decodeIrqInfoReply(message: Uint8Array, opts: { index?: number } = {}): IrqInfoReply {
  const p = openReply(message, Command.DEVICE_GET_IRQ_INFO).payload;
  requireLength(p, IRQ_INFO_SIZE, 'DEVICE_GET_IRQ_INFO reply');
  const argsz = readU32(p, 0);
  if (argsz < IRQ_INFO_SIZE) throw fail('EINVAL', `DEVICE_GET_IRQ_INFO reply: argsz ${argsz} is below ${IRQ_INFO_SIZE}`);
  const flags = readU32(p, 4);
  if (flags & ~IRQ_INFO_FLAGS) throw fail('EINVAL', `DEVICE_GET_IRQ_INFO reply: unknown flags 0x${flags.toString(16)}`);
  const index = readU32(p, 8);
  if (opts.index !== undefined && index !== opts.index) {
    throw fail('EINVAL', `DEVICE_GET_IRQ_INFO reply for index ${index}, asked for ${opts.index}`);
  }
  return { argsz, flags, index, count: readU32(p, 12) };
}
