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
import { hex } from '../util/format.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { decodeInfoQuery, encodeInfoQuery, type InfoQuery } from './info-query.js';
import { newReply, openCommand, openReply } from './message.js';
import { struct } from './struct.js';
import { checkU32, requireLength } from './wire.js';
import { irqInfoFlags, pciIrq } from '../uapi/vfio.js';

/** struct vfio_irq_info: request and reply. */
const IRQ_INFO = struct('DEVICE_GET_IRQ_INFO', [
  ['argsz', 'u32'],
  ['flags', 'u32'],
  ['index', 'u32'],
  ['count', 'u32'],
] as const);
/** Size of the DEVICE_GET_IRQ_INFO payload (struct vfio_irq_info, 16 bytes). */
export const IRQ_INFO_SIZE = IRQ_INFO.size;
const QUERY: InfoQuery = {
  command: Command.DEVICE_GET_IRQ_INFO,
  name: 'DEVICE_GET_IRQ_INFO',
  layout: IRQ_INFO,
  minimum: 'reply',
  index: { what: 'irq', unit: 'types' },
};

/** IRQ info flag: the interrupts can signal eventfds. */
export const IRQ_INFO_EVENTFD = irqInfoFlags.EVENTFD;
/** IRQ info flag: the vectors can be masked and unmasked. */
export const IRQ_INFO_MASKABLE = irqInfoFlags.MASKABLE;
/** IRQ info flag: a vector masks itself when it fires and must be unmasked (level-triggered INTx). */
export const IRQ_INFO_AUTOMASKED = irqInfoFlags.AUTOMASKED;
/** IRQ info flag: the vector count cannot change while enabled; disable and set up again. */
export const IRQ_INFO_NORESIZE = irqInfoFlags.NORESIZE;
const IRQ_INFO_FLAGS = 0xf;

/** vfio-pci interrupt index of INTx. */
export const PCI_INTX_IRQ_INDEX = pciIrq.INTX;
/** vfio-pci interrupt index of MSI. */
export const PCI_MSI_IRQ_INDEX = pciIrq.MSI;
/** vfio-pci interrupt index of MSI-X. */
export const PCI_MSIX_IRQ_INDEX = pciIrq.MSIX;
/** vfio-pci interrupt index of the error (AER) notification. */
export const PCI_ERR_IRQ_INDEX = pciIrq.ERR;
/** vfio-pci interrupt index of the device request (release the device) notification. */
export const PCI_REQ_IRQ_INDEX = pciIrq.REQ;

/** A decoded DEVICE_GET_IRQ_INFO request: room for the reply and the interrupt index. */
export interface IrqInfoRequest {
  argsz: number;
  index: number;
}

/** What a server reports for one interrupt type: flags and vector count. */
export interface IrqInfo {
  flags: number;
  index: number;
  count: number;
}

/** A decoded DEVICE_GET_IRQ_INFO reply. */
export interface IrqInfoReply extends IrqInfo {
  argsz: number;
}

/** Encodes DEVICE_GET_IRQ_INFO for interrupt `index` with `argsz` bytes of room for the reply; EINVAL for argsz below 16. */
export function encodeIrqInfoRequest(msgId: number, index: number, argsz = IRQ_INFO_SIZE, flags = 0): Buffer {
  return encodeInfoQuery(QUERY, msgId, index, argsz, flags);
}

/** 16 bytes; argsz at least 16; flags and count zero; index below `numIrqs` when given. EINVAL otherwise. */
export function decodeIrqInfoRequestPayload(p: Uint8Array, fds: readonly number[] = [], opts: { numIrqs?: number } = {}): IrqInfoRequest {
  return decodeInfoQuery(QUERY, p, fds, opts.numIrqs);
}

/** Decodes a DEVICE_GET_IRQ_INFO command (checks as decodeIrqInfoRequestPayload); EINVAL when malformed. */
export function decodeIrqInfoRequest(message: Uint8Array, fds: readonly number[] = [], opts: { numIrqs?: number } = {}): IrqInfoRequest {
  return decodeIrqInfoRequestPayload(openCommand(message, Command.DEVICE_GET_IRQ_INFO).payload, fds, opts);
}

/** Encodes the DEVICE_GET_IRQ_INFO reply (argsz 16); EINVAL for unknown flags or a field that is not a u32. */
export function encodeIrqInfoReply(msgId: number, info: IrqInfo): Buffer {
  checkU32(info.flags, 'irq flags');
  if (info.flags & ~IRQ_INFO_FLAGS) throw fail('EINVAL', `unknown irq info flags ${hex(info.flags)}`);
  checkU32(info.index, 'irq index');
  checkU32(info.count, 'irq count');
  const b = newReply(msgId, Command.DEVICE_GET_IRQ_INFO, IRQ_INFO_SIZE);
  IRQ_INFO.write(b, { argsz: IRQ_INFO_SIZE, flags: info.flags, index: info.index, count: info.count }, HEADER_SIZE);
  return b;
}

/** 16 bytes, argsz at least 16, known flags only, the asked-for index when given. EINVAL otherwise. */
export function decodeIrqInfoReply(message: Uint8Array, opts: { index?: number } = {}): IrqInfoReply {
  const p = openReply(message, Command.DEVICE_GET_IRQ_INFO).payload;
  requireLength(p, IRQ_INFO_SIZE, 'DEVICE_GET_IRQ_INFO reply');
  const r = IRQ_INFO.read(p);
  if (r.argsz < IRQ_INFO_SIZE) throw fail('EINVAL', `DEVICE_GET_IRQ_INFO reply: argsz ${r.argsz} is below ${IRQ_INFO_SIZE}`);
  if (r.flags & ~IRQ_INFO_FLAGS) throw fail('EINVAL', `DEVICE_GET_IRQ_INFO reply: unknown flags ${hex(r.flags)}`);
  if (opts.index !== undefined && r.index !== opts.index) {
    throw fail('EINVAL', `DEVICE_GET_IRQ_INFO reply for index ${r.index}, asked for ${opts.index}`);
  }
  return r;
}
