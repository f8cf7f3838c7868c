// VFIO_USER_DEVICE_SET_IRQS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IRQ_SET_ACTION_MASK,
  IRQ_SET_ACTION_TRIGGER,
  IRQ_SET_DATA_BOOL,
  IRQ_SET_DATA_EVENTFD,
  IRQ_SET_DATA_NONE,
  decodeSetIrqsReply,
  decodeSetIrqsRequest,
  encodeSetIrqsReply,
  encodeSetIrqsRequest,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32 } from './helpers.js';

function irqSet(flags: number, index: number, start: number, count: number, data: number[] = []): Buffer {
  return msg(1, 8, 0, [...u32(20 + data.length), ...u32(flags), ...u32(index), ...u32(start), ...u32(count), ...data]);
}

test('EVENTFD|TRIGGER: 20 bytes, the eventfds ride along', () => {
  const m = encodeSetIrqsRequest(1, { data: 'eventfd', action: 'trigger', index: 2, start: 0, count: 3 }, 3);
  assert.deepEqual(m, bytes(hdr(1, 8, 36), u32(20), u32(0x24), u32(2), u32(0), u32(3)));
  const r = decodeSetIrqsRequest(m, [10, 11, 12]);
  assert.deepEqual(r, {
    argsz: 20,
    flags: IRQ_SET_DATA_EVENTFD | IRQ_SET_ACTION_TRIGGER,
    data: 'eventfd',
    action: 'trigger',
    index: 2,
    start: 0,
    count: 3,
    bools: undefined,
    eventfds: [10, 11, 12],
  });
  // No descriptors unbinds the range (QEMU's way).
  assert.deepEqual(decodeSetIrqsRequest(m, []).eventfds, []);
});

test('BOOL|MASK: count booleans follow, argsz includes them', () => {
  const m = encodeSetIrqsRequest(1, { data: 'bool', action: 'mask', index: 0, start: 0, count: 4, bools: Uint8Array.from([1, 0, 1, 1]) });
  assert.deepEqual(m, bytes(hdr(1, 8, 40), u32(24), u32(0xa), u32(0), u32(0), u32(4), [1, 0, 1, 1]));
  const r = decodeSetIrqsRequest(m);
  assert.deepEqual([...r.bools!], [1, 0, 1, 1]);
  assert.equal(r.action, 'mask');
});

test('NONE|TRIGGER with count 0 disables the index; with a count it fires', () => {
  const off = encodeSetIrqsRequest(1, { data: 'none', action: 'trigger', index: 1, start: 0, count: 0 });
  assert.deepEqual(off, irqSet(0x21, 1, 0, 0));
  assert.equal(decodeSetIrqsRequest(off).count, 0);
  assert.equal(decodeSetIrqsRequest(irqSet(0x21, 0, 0, 1), [], { numIrqs: 5, irqCount: 1 }).data, 'none');
});

test('flag combinations: exactly one data type and one action (EINVAL)', () => {
  const cases: [number, RegExp][] = [
    [IRQ_SET_DATA_NONE | IRQ_SET_DATA_BOOL | IRQ_SET_ACTION_TRIGGER, /exactly one of DATA_NONE/],
    [IRQ_SET_ACTION_TRIGGER, /exactly one of DATA_NONE/],
    [IRQ_SET_DATA_NONE, /exactly one of ACTION_MASK/],
    [IRQ_SET_DATA_NONE | IRQ_SET_ACTION_MASK | IRQ_SET_ACTION_TRIGGER, /exactly one of ACTION_MASK/],
    [IRQ_SET_DATA_NONE | IRQ_SET_ACTION_TRIGGER | 0x40, /unknown flags 0x40/],
  ];
  for (const [f, re] of cases) assertErrno(() => decodeSetIrqsRequest(irqSet(f, 0, 0, 1)), 'EINVAL', re);
});

test('data and descriptor counts must match the flags (EINVAL)', () => {
  const boolMask = IRQ_SET_DATA_BOOL | IRQ_SET_ACTION_MASK;
  const efd = IRQ_SET_DATA_EVENTFD | IRQ_SET_ACTION_TRIGGER;
  assertErrno(() => decodeSetIrqsRequest(irqSet(boolMask, 0, 0, 4, [1, 1, 1])), 'EINVAL', /truncated/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(boolMask, 0, 0, 2, [1, 1, 1])), 'EINVAL', /too long/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(0x21, 0, 0, 1, [1])), 'EINVAL', /too long/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(efd, 2, 0, 3), [1, 2]), 'EINVAL', /2 eventfds for 3 vectors/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(0x21, 0, 0, 1), [1]), 'EINVAL', /descriptors with DATA_NONE/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(boolMask, 0, 0, 1, [1]), [1]), 'EINVAL', /descriptors with DATA_BOOL/);
  assertErrno(() => decodeSetIrqsRequest(patch32(irqSet(0x21, 0, 0, 1), 16, 24)), 'EINVAL', /argsz 24 differs/);
  assertErrno(() => decodeSetIrqsRequest(msg(1, 8, 0, [1, 2, 3])), 'EINVAL', /truncated/);
  assertErrno(() => decodeSetIrqsRequest(resize(irqSet(0x21, 0, 0, 1), -1)), 'EINVAL', /truncated/);
});

test('ranges: count 0 only as start 0 with NONE|TRIGGER; no wrap; within the device when known (EINVAL)', () => {
  assertErrno(() => decodeSetIrqsRequest(irqSet(0x21, 0, 1, 0)), 'EINVAL', /count 0 needs start 0/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(IRQ_SET_DATA_NONE | IRQ_SET_ACTION_MASK, 0, 0, 0)), 'EINVAL', /count 0 is only valid/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(IRQ_SET_DATA_EVENTFD | IRQ_SET_ACTION_TRIGGER, 0, 0, 0)), 'EINVAL', /count 0/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(0x21, 0, 0xffff_ffff, 2)), 'EINVAL', /overflows/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(0x21, 5, 0, 1), [], { numIrqs: 5 }), 'EINVAL', /irq index 5 out of range/);
  assertErrno(() => decodeSetIrqsRequest(irqSet(0x21, 2, 30, 3), [], { irqCount: 32 }), 'EINVAL', /vectors 30..32 beyond the 32/);
});

test('the encoder refuses what the decoder refuses', () => {
  assertErrno(
    () => encodeSetIrqsRequest(1, { data: 'bool', action: 'mask', index: 0, start: 0, count: 2, bools: new Uint8Array(1) }),
    'EINVAL',
  );
  assertErrno(
    () => encodeSetIrqsRequest(1, { data: 'none', action: 'mask', index: 0, start: 0, count: 1, bools: new Uint8Array(1) }),
    'EINVAL',
  );
  assertErrno(() => encodeSetIrqsRequest(1, { data: 'eventfd', action: 'trigger', index: 0, start: 0, count: 2 }, 1), 'EINVAL');
  assertErrno(() => encodeSetIrqsRequest(1, { data: 'none', action: 'trigger', index: 0, start: 0, count: 1 }, 1), 'EINVAL');
  assertErrno(() => encodeSetIrqsRequest(1, { data: 'none', action: 'unmask', index: 0, start: 2, count: 0 }), 'EINVAL');
});

test('reply has no payload', () => {
  assert.deepEqual(encodeSetIrqsReply(4), bytes(hdr(4, 8, 16, 1)));
  decodeSetIrqsReply(encodeSetIrqsReply(4));
  assertErrno(() => decodeSetIrqsReply(msg(4, 8, 1, [0])), 'EINVAL', /too long/);
});
