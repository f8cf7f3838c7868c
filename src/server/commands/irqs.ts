// DEVICE_GET_IRQ_INFO and DEVICE_SET_IRQS (the served device's interrupts).

import {
  PCI_NUM_IRQS,
  decodeIrqInfoRequestPayload,
  decodeSetIrqsRequestPayload,
  encodeIrqInfoReply,
  encodeSetIrqsReply,
  type Header,
} from '../../protocol/index.js';
import type { CommandContext } from './context.js';

export function onIrqInfo(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): Uint8Array {
  const req = decodeIrqInfoRequestPayload(p, fds, { numIrqs: PCI_NUM_IRQS });
  const info = ctx.device.irqInfo(req.index);
  return encodeIrqInfoReply(h.msgId, { flags: info.flags, index: req.index, count: info.count });
}

export function onSetIrqs(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): Uint8Array {
  const req = decodeSetIrqsRequestPayload(p, fds, { numIrqs: PCI_NUM_IRQS });
  // The interrupt layer owns the eventfds from here (it closes what it does not keep).
  const taken = fds.splice(0, fds.length);
  ctx.device.setIrqs(req, taken);
  return encodeSetIrqsReply(h.msgId);
}
