// VFIO_USER_DEVICE_SET_IRQS: bind eventfds to, trigger, mask or unmask a
// range of vectors of one interrupt type (struct vfio_irq_set).
//
// Request: 0 u32 argsz  4 u32 flags  8 u32 index  12 u32 start  16 u32 count
//          20 data: `count` bytes for DATA_BOOL, nothing otherwise
// flags hold exactly one data type (NONE 0x1, BOOL 0x2, EVENTFD 0x4) and
// exactly one action (MASK 0x8, UNMASK 0x10, TRIGGER 0x20). argsz is the size
// of the request payload, data included. With DATA_EVENTFD the eventfds come
// as SCM_RIGHTS, one per vector of the range, or none at all to unbind the
// range (QEMU sends them that way, in chunks of at most max_msg_fds). count 0
// (with start 0) is only meaningful as NONE|TRIGGER: disable the whole type.
// The reply has no payload. Whether the device supports an action on an index
// is the server's decision (EINVAL / ENOTTY), not the codec's.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import { checkU32, readU32, requireAtLeast, requireLength, writeU32 } from './wire.js';
import { irqSetFlags } from '../uapi/vfio.js';

/** SET_IRQS data type: none; the action applies to every vector of the range. */
export const IRQ_SET_DATA_NONE = irqSetFlags.DATA_NONE;
/** SET_IRQS data type: one byte per vector choosing whether the action applies to it. */
export const IRQ_SET_DATA_BOOL = irqSetFlags.DATA_BOOL;
/** SET_IRQS data type: eventfds, one per vector, passed as SCM_RIGHTS (none unbinds). */
export const IRQ_SET_DATA_EVENTFD = irqSetFlags.DATA_EVENTFD;
/** SET_IRQS action: mask the vectors. */
export const IRQ_SET_ACTION_MASK = irqSetFlags.ACTION_MASK;
/** SET_IRQS action: unmask the vectors. */
export const IRQ_SET_ACTION_UNMASK = irqSetFlags.ACTION_UNMASK;
/** SET_IRQS action: trigger the vectors, or with DATA_EVENTFD bind the eventfds they signal. */
export const IRQ_SET_ACTION_TRIGGER = irqSetFlags.ACTION_TRIGGER;
/** The data-type bits of the SET_IRQS flags. */
export const IRQ_SET_DATA_TYPE_MASK = IRQ_SET_DATA_NONE | IRQ_SET_DATA_BOOL | IRQ_SET_DATA_EVENTFD;
/** The action bits of the SET_IRQS flags. */
export const IRQ_SET_ACTION_TYPE_MASK = IRQ_SET_ACTION_MASK | IRQ_SET_ACTION_UNMASK | IRQ_SET_ACTION_TRIGGER;

/** Size of struct vfio_irq_set before its data (20 bytes). */
export const IRQ_SET_SIZE = 20;

/** The data type of a SET_IRQS request. */
export type IrqDataType = 'none' | 'bool' | 'eventfd';
/** The action of a SET_IRQS request. */
export type IrqAction = 'mask' | 'unmask' | 'trigger';

/** A DEVICE_SET_IRQS request to encode. */
export interface SetIrqsArgs {
  data: IrqDataType;
  action: IrqAction;
  index: number;
  start: number;
  count: number;
  /** DATA_BOOL: one byte per vector, `count` of them. */
  bools?: Uint8Array;
}

/** A decoded DEVICE_SET_IRQS request, with its booleans or eventfds. */
export interface SetIrqsRequest {
  argsz: number;
  flags: number;
  data: IrqDataType;
  action: IrqAction;
  index: number;
  start: number;
  count: number;
  /** DATA_BOOL: the `count` booleans (a view into the message). */
  bools: Uint8Array | undefined;
  /** DATA_EVENTFD: the eventfds, one per vector from `start`; empty means unbind. */
  eventfds: readonly number[];
}

const DATA_FLAG: Record<IrqDataType, number> = {
  none: IRQ_SET_DATA_NONE,
  bool: IRQ_SET_DATA_BOOL,
  eventfd: IRQ_SET_DATA_EVENTFD,
};
const ACTION_FLAG: Record<IrqAction, number> = {
  mask: IRQ_SET_ACTION_MASK,
  unmask: IRQ_SET_ACTION_UNMASK,
  trigger: IRQ_SET_ACTION_TRIGGER,
};

function dataType(flags: number): IrqDataType {
  switch (flags & IRQ_SET_DATA_TYPE_MASK) {
    case IRQ_SET_DATA_NONE:
      return 'none';
    case IRQ_SET_DATA_BOOL:
      return 'bool';
    case IRQ_SET_DATA_EVENTFD:
      return 'eventfd';
    default:
      throw fail('EINVAL', `SET_IRQS: flags 0x${flags.toString(16)} need exactly one of DATA_NONE, DATA_BOOL, DATA_EVENTFD`);
  }
}

function action(flags: number): IrqAction {
  switch (flags & IRQ_SET_ACTION_TYPE_MASK) {
    case IRQ_SET_ACTION_MASK:
      return 'mask';
    case IRQ_SET_ACTION_UNMASK:
      return 'unmask';
    case IRQ_SET_ACTION_TRIGGER:
      return 'trigger';
    default:
      throw fail('EINVAL', `SET_IRQS: flags 0x${flags.toString(16)} need exactly one of ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER`);
  }
}

interface RangeLimits {
  /** Interrupt types the device has: index must be below. */
  numIrqs?: number;
  /** Vectors of this index: start + count must not exceed. */
  irqCount?: number;
}

function checkRange(flags: number, index: number, start: number, count: number, limits: RangeLimits): void {
  if (start + count > 0xffff_ffff) throw fail('EINVAL', `SET_IRQS: start ${start} + count ${count} overflows`);
  if (count === 0) {
    if (start !== 0) throw fail('EINVAL', `SET_IRQS: count 0 needs start 0, got ${start}`);
    if (flags !== (IRQ_SET_DATA_NONE | IRQ_SET_ACTION_TRIGGER)) {
      throw fail('EINVAL', 'SET_IRQS: count 0 is only valid with DATA_NONE|ACTION_TRIGGER (disable)');
    }
  }
  if (limits.numIrqs !== undefined && index >= limits.numIrqs) {
    throw fail('EINVAL', `SET_IRQS: irq index ${index} out of range (${limits.numIrqs} types)`);
  }
  if (limits.irqCount !== undefined && start + count > limits.irqCount) {
    throw fail('EINVAL', `SET_IRQS: vectors ${start}..${start + count - 1} beyond the ${limits.irqCount} of index ${index}`);
  }
}

/**
 * Encodes a request. `eventfds`, for DATA_EVENTFD, only has its length
 * checked (count descriptors, or none to unbind): the descriptors themselves go
 * to sendmsg alongside the message.
 */
export function encodeSetIrqsRequest(msgId: number, a: SetIrqsArgs, eventfdCount = 0, flags = 0): Buffer {
  if (DATA_FLAG[a.data] === undefined || ACTION_FLAG[a.action] === undefined) {
    throw fail('EINVAL', `SET_IRQS: bad data type ${a.data} or action ${a.action}`);
  }
  const f = DATA_FLAG[a.data] | ACTION_FLAG[a.action];
  checkU32(a.index, 'irq index');
  checkU32(a.start, 'irq start');
  checkU32(a.count, 'irq count');
  checkRange(f, a.index, a.start, a.count, {});
  const dataLen = a.data === 'bool' ? a.count : 0;
  if (a.data === 'bool') {
    if (!a.bools || a.bools.length !== a.count) {
      throw fail('EINVAL', `SET_IRQS: DATA_BOOL needs ${a.count} booleans, got ${a.bools?.length ?? 0}`);
    }
  } else if (a.bools) {
    throw fail('EINVAL', 'SET_IRQS: booleans given without DATA_BOOL');
  }
  if (a.data === 'eventfd') {
    if (eventfdCount !== 0 && eventfdCount !== a.count) {
      throw fail('EINVAL', `SET_IRQS: ${eventfdCount} eventfds for ${a.count} vectors (send ${a.count}, or none to unbind)`);
    }
  } else if (eventfdCount !== 0) {
    throw fail('EINVAL', 'SET_IRQS: descriptors given without DATA_EVENTFD');
  }
  const b = newCommand(msgId, Command.DEVICE_SET_IRQS, IRQ_SET_SIZE + dataLen, flags);
  writeU32(b, HEADER_SIZE, IRQ_SET_SIZE + dataLen);
  writeU32(b, HEADER_SIZE + 4, f);
  writeU32(b, HEADER_SIZE + 8, a.index);
  writeU32(b, HEADER_SIZE + 12, a.start);
  writeU32(b, HEADER_SIZE + 16, a.count);
  if (a.bools) b.set(a.bools, HEADER_SIZE + IRQ_SET_SIZE);
  return b;
}

/**
 * Decodes a request: argsz equal to the payload size; no flag outside the
 * data and action sets and exactly one of each; `count` bytes of data for
 * DATA_BOOL and none otherwise; descriptors only with DATA_EVENTFD, either
 * `count` of them or none; count 0 only as start 0 with NONE|TRIGGER; the
 * range not wrapping and, when the caller knows them, index and range within
 * the device's interrupts. All failures EINVAL.
 */
export function decodeSetIrqsRequestPayload(p: Uint8Array, fds: readonly number[] = [], limits: RangeLimits = {}): SetIrqsRequest {
  requireAtLeast(p, IRQ_SET_SIZE, 'DEVICE_SET_IRQS');
  const argsz = readU32(p, 0);
  const flags = readU32(p, 4);
  const index = readU32(p, 8);
  const start = readU32(p, 12);
  const count = readU32(p, 16);
  const known = IRQ_SET_DATA_TYPE_MASK | IRQ_SET_ACTION_TYPE_MASK;
  if (flags & ~known) throw fail('EINVAL', `SET_IRQS: unknown flags 0x${(flags & ~known).toString(16)}`);
  const data = dataType(flags);
  const act = action(flags);
  requireLength(p, IRQ_SET_SIZE + (data === 'bool' ? count : 0), `DEVICE_SET_IRQS with DATA_${data.toUpperCase()} and count ${count}`);
  if (argsz !== p.length) throw fail('EINVAL', `SET_IRQS: argsz ${argsz} differs from the ${p.length}-byte payload`);
  checkRange(flags, index, start, count, limits);
  if (data === 'eventfd') {
    if (fds.length !== 0 && fds.length !== count) {
      throw fail('EINVAL', `SET_IRQS: ${fds.length} eventfds for ${count} vectors`);
    }
  } else if (fds.length !== 0) {
    throw fail('EINVAL', `SET_IRQS: ${fds.length} descriptors with DATA_${data.toUpperCase()}`);
  }
  return {
    argsz,
    flags,
    data,
    action: act,
    index,
    start,
    count,
    bools: data === 'bool' ? p.subarray(IRQ_SET_SIZE, IRQ_SET_SIZE + count) : undefined,
    eventfds: data === 'eventfd' ? fds : [],
  };
}

/** Decodes a DEVICE_SET_IRQS command and its descriptors (checks as decodeSetIrqsRequestPayload); EINVAL when malformed. */
export function decodeSetIrqsRequest(message: Uint8Array, fds: readonly number[] = [], limits: RangeLimits = {}): SetIrqsRequest {
  return decodeSetIrqsRequestPayload(openCommand(message, Command.DEVICE_SET_IRQS).payload, fds, limits);
}

/** The DEVICE_SET_IRQS reply (no payload). */
export function encodeSetIrqsReply(msgId: number): Buffer {
  return newReply(msgId, Command.DEVICE_SET_IRQS, 0);
}

/** Checks a DEVICE_SET_IRQS reply has no payload (EINVAL otherwise); an error reply throws PeerError. */
export function decodeSetIrqsReply(message: Uint8Array): void {
  requireLength(openReply(message, Command.DEVICE_SET_IRQS).payload, 0, 'DEVICE_SET_IRQS reply');
}
