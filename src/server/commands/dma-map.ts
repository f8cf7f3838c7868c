// DMA_MAP and DMA_UNMAP: the client's memory as the device may reach it
// (the maps themselves are the session's DmaSpace).

import { fail } from '../../errors.js';
import {
  decodeDmaMapRequestPayload,
  decodeDmaUnmapRequestPayload,
  encodeDmaMapReply,
  encodeDmaUnmapReply,
  type Header,
} from '../../protocol/index.js';
import type { CommandContext } from './context.js';

export function onDmaMap(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): Uint8Array {
  const req = decodeDmaMapRequestPayload(p, fds);
  // The descriptor stays in `fds` and the session closes it after this: the mapping keeps the memory.
  ctx.dmaSpace().map({ iova: req.address, size: req.size, offset: req.offset, readable: req.readable, writable: req.writable, fd: req.fd });
  return encodeDmaMapReply(h.msgId);
}

export function onDmaUnmap(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): Uint8Array {
  const req = decodeDmaUnmapRequestPayload(p, fds);
  if (req.bitmap) throw fail('ENOTSUP', 'DMA_UNMAP: dirty page tracking is not supported');
  const space = ctx.dmaSpace();
  if (req.all) space.unmapAll();
  else space.unmap(req.address, req.size);
  return encodeDmaUnmapReply(h.msgId, req);
}
