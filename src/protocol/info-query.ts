// The request shape the DEVICE_GET_* commands share (struct vfio_device_info,
// vfio_region_info, vfio_irq_info, vfio_region_io_fds_request): the reply's
// structure sent with only argsz (the room for the reply, at least the
// structure) and the index asked about set; every other field zero.

import { fail } from '../errors.js';
import { HEADER_SIZE } from './header.js';
import { newCommand } from './message.js';
import type { FieldList, Struct } from './struct.js';
import { checkU32, requireLength, requireNoFds } from './wire.js';

export interface InfoQuery {
  /** The command; its name labels every error. */
  command: number;
  name: string;
  /** The structure, with u32 `argsz` first and, when indexed, u32 `index`. */
  layout: Struct<FieldList>;
  /** What the smallest argsz holds, for messages ("reply", "structure"). */
  minimum: string;
  /** The thing indexed ("region", "irq") and what the limit counts ("regions", "types"). */
  index?: { what: string; unit: string };
}

export interface InfoQueryRequest {
  argsz: number;
  index: number;
}

export function encodeInfoQuery(q: InfoQuery, msgId: number, index: number, argsz: number, flags: number): Buffer {
  if (q.index) checkU32(index, `${q.index.what} index`);
  checkU32(argsz, `${q.name} argsz`);
  if (argsz < q.layout.size) throw fail('EINVAL', `${q.name}: argsz ${argsz} is below ${q.layout.size}`);
  const b = newCommand(msgId, q.command, q.layout.size, flags);
  q.layout.write(b, q.index ? { argsz, index } : { argsz }, HEADER_SIZE);
  return b;
}

/**
 * Decodes the payload: exactly the structure, no fds, argsz at least the
 * structure, every field but argsz and index zero, and the index below
 * `limit` when the caller knows it. All failures EINVAL.
 */
export function decodeInfoQuery(q: InfoQuery, p: Uint8Array, fds: readonly number[], limit: number | undefined): InfoQueryRequest {
  requireNoFds(fds, q.name);
  requireLength(p, q.layout.size, q.name);
  const v = q.layout.read(p) as Record<string, number | bigint>;
  const argsz = v['argsz'] as number;
  if (argsz < q.layout.size) {
    throw fail('EINVAL', `${q.name}: argsz ${argsz} is smaller than the ${q.layout.size}-byte ${q.minimum}`);
  }
  const set = q.index ? ['argsz', 'index'] : ['argsz'];
  q.layout.requireZero(
    v as never,
    Object.keys(v).filter((k) => !set.includes(k)),
  );
  const index = q.index ? (v['index'] as number) : 0;
  if (q.index && limit !== undefined && index >= limit) {
    throw fail('EINVAL', `${q.name}: ${q.index.what} index ${index} out of range (${limit} ${q.index.unit})`);
  }
  return { argsz, index };
}
