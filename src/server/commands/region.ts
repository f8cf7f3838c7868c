// REGION_READ, REGION_WRITE and REGION_WRITE_MULTI on the general path (the
// session's fast path takes plain reads and writes when it can; both answer
// with the protocol's encodeRegionAccessReplyInto, in the reply buffer).

import { fail } from '../../errors.js';
import {
  Command,
  PCI_NUM_REGIONS,
  REGION_RW_DATA_OFFSET,
  decodeRegionReadRequestPayload,
  decodeRegionWriteMultiRequestPayload,
  decodeRegionWriteRequestPayload,
  encodeRegionAccessReplyInto,
  encodeRegionWriteMultiReply,
  type Header,
} from '../../protocol/index.js';
import { isPromise, type MaybePromise } from '../../util/promise.js';
import type { CommandContext } from './context.js';

export function onRegionRead(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): MaybePromise<Uint8Array> {
  const a = decodeRegionReadRequestPayload(p, fds, { maxDataXferSize: ctx.limits.maxDataXferSize, numRegions: PCI_NUM_REGIONS });
  const buf = ctx.replyBuffer();
  const dst = buf.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + a.count);
  dst.fill(0);
  const r = ctx.device.regionRead(a.region, a.offset, dst);
  const reply = (): Uint8Array =>
    buf.subarray(0, encodeRegionAccessReplyInto(buf, h.msgId, Command.REGION_READ, a.region, a.offset, a.count));
  return isPromise(r) ? r.then(reply) : reply();
}

export function onRegionWrite(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): MaybePromise<Uint8Array> {
  const a = decodeRegionWriteRequestPayload(p, fds, { maxDataXferSize: ctx.limits.maxDataXferSize, numRegions: PCI_NUM_REGIONS });
  const r = ctx.device.regionWrite(a.region, a.offset, a.data);
  const reply = (): Uint8Array => {
    const buf = ctx.replyBuffer();
    return buf.subarray(0, encodeRegionAccessReplyInto(buf, h.msgId, Command.REGION_WRITE, a.region, a.offset, a.count));
  };
  return isPromise(r) ? r.then(reply) : reply();
}

export function onRegionWriteMulti(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): MaybePromise<Uint8Array> {
  if (!ctx.version?.writeMultiple) throw fail('ENOTSUP', 'REGION_WRITE_MULTI was not negotiated (write_multiple)');
  const writes = decodeRegionWriteMultiRequestPayload(p, fds, { numRegions: PCI_NUM_REGIONS });
  const device = ctx.device;
  // In order; the first failure stops the rest and is the reply (the writes before it took effect).
  const from = (i: number): MaybePromise<Uint8Array> => {
    for (; i < writes.length; i++) {
      const w = writes[i]!;
      const r = device.regionWrite(w.region, w.offset, w.data);
      if (isPromise(r)) {
        const next = i + 1;
        return r.then(() => from(next));
      }
    }
    return encodeRegionWriteMultiReply(h.msgId, writes.length);
  };
  return from(0);
}
