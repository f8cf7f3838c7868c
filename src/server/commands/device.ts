// DEVICE_GET_REGION_INFO and DEVICE_RESET: what the served device answers
// about its regions, and its function reset.

import { fail } from '../../errors.js';
import { PCI_NUM_REGIONS, decodeRegionInfoRequestPayload, encodeRegionInfoReply, encodeReply, type Header } from '../../protocol/index.js';
import { isPromise, type MaybePromise } from '../../util/promise.js';
import type { CommandContext, CommandReply } from './context.js';

export function onRegionInfo(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): CommandReply {
  const req = decodeRegionInfoRequestPayload(p, fds, { numRegions: PCI_NUM_REGIONS });
  const d = ctx.device.regionInfo(req.index);
  const { message, sendFd } = encodeRegionInfoReply(h.msgId, req.argsz, d);
  // The memfd stays the device's: the socket sends a copy.
  return sendFd && d.fd !== undefined ? { message, fds: [d.fd] } : message;
}

export function onDeviceReset(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): MaybePromise<Uint8Array> {
  if (fds.length) throw fail('EINVAL', `DEVICE_RESET: ${fds.length} descriptors, none allowed`);
  if (p.length !== 0) throw fail('EINVAL', `DEVICE_RESET: ${p.length} bytes of payload, none allowed`);
  const r = ctx.device.functionReset();
  const reply = (): Uint8Array => encodeReply(h);
  return isPromise(r) ? r.then(reply) : reply();
}
