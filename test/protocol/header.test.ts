// The 16-byte header, opening whole messages, and message-size limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  DEFAULT_MAX_MESSAGE_SIZE,
  FLAG_ERROR,
  FLAG_NO_REPLY,
  HEADER_SIZE,
  PeerError,
  encodeHeader,
  isCommand,
  isErrorReply,
  isReply,
  maxMessageSizeFor,
  openCommand,
  openMessage,
  openReply,
  readHeader,
  validateHeader,
  wantsReply,
  writeHeader,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, u16, u32 } from './helpers.js';

test('header encodes little-endian at the offsets of the specification', () => {
  const b = encodeHeader({ msgId: 0x1234, command: Command.DMA_MAP, size: 48, flags: FLAG_NO_REPLY, errno: 0 });
  assert.deepEqual(b, bytes(u16(0x1234), u16(2), u32(48), u32(0x10), u32(0)));
  assert.equal(b.length, HEADER_SIZE);
});

test('header round-trips through readHeader', () => {
  const h = { msgId: 0xffff, command: 18, size: 0xffff_fff0, flags: 0x21, errno: 22 };
  const b = Buffer.alloc(20);
  writeHeader(b, h, 4);
  assert.deepEqual(readHeader(b, 4), h);
});

test('readHeader refuses fewer than 16 bytes with EINVAL', () => {
  assertErrno(() => readHeader(new Uint8Array(15)), 'EINVAL', /shorter than the 16-byte header/);
});

test('writeHeader checks field widths', () => {
  assertErrno(() => encodeHeader({ msgId: 0x10000, command: 1, size: 16, flags: 0, errno: 0 }), 'EINVAL', /message id/);
  assertErrno(() => encodeHeader({ msgId: 1, command: -1, size: 16, flags: 0, errno: 0 }), 'EINVAL', /command/);
  assertErrno(() => writeHeader(new Uint8Array(8), { msgId: 1, command: 1, size: 16, flags: 0, errno: 0 }), 'EMSGSIZE');
});

test('type helpers read the flags', () => {
  const cmd = readHeader(bytes(hdr(1, 9, 32, 0)));
  const noReply = readHeader(bytes(hdr(1, 10, 36, FLAG_NO_REPLY)));
  const reply = readHeader(bytes(hdr(1, 9, 16, 1)));
  const err = readHeader(bytes(hdr(1, 9, 16, 1 | FLAG_ERROR, 5)));
  assert.ok(isCommand(cmd) && wantsReply(cmd) && !isReply(cmd));
  assert.ok(isCommand(noReply) && !wantsReply(noReply));
  assert.ok(isReply(reply) && !isErrorReply(reply) && !wantsReply(reply));
  assert.ok(isErrorReply(err));
});

test('validateHeader accepts every command of the specification, both directions', () => {
  for (const c of Object.values(Command)) {
    validateHeader(readHeader(bytes(hdr(1, c, 16, 0))));
    validateHeader(readHeader(bytes(hdr(1, c, 16, 1))));
    validateHeader(readHeader(bytes(hdr(1, c, 16, 1 | FLAG_ERROR, 22))));
    validateHeader(readHeader(bytes(hdr(1, c, 16, FLAG_NO_REPLY))));
  }
});

test('validateHeader: unknown commands are ENOSYS (0, 14 DIRTY_PAGES, 19, 0xffff)', () => {
  for (const c of [0, 14, 19, 0xffff]) assertErrno(() => validateHeader(readHeader(bytes(hdr(1, c, 16)))), 'ENOSYS');
});

test('validateHeader: malformed headers are EINVAL', () => {
  const cases: [number[], RegExp][] = [
    [hdr(1, 1, 15), /smaller than the header/],
    [hdr(1, 1, 16, 2), /message type 2/],
    [hdr(1, 1, 16, 0xf), /message type 15/],
    [hdr(1, 1, 16, 0x40), /reserved flag bits/],
    [hdr(1, 1, 16, 0x8000_0000), /reserved flag bits/],
    [hdr(1, 1, 16, FLAG_ERROR), /error flag set on a command/],
    [hdr(1, 1, 16, 0, 22), /errno field is reserved/],
    [hdr(1, 1, 16, 1 | FLAG_NO_REPLY), /no-reply flag set on a reply/],
    [hdr(1, 1, 16, 1, 22), /without the error flag/],
  ];
  for (const [h, re] of cases) assertErrno(() => validateHeader(readHeader(bytes(h))), 'EINVAL', re);
});

test('openMessage checks the size field against the bytes given', () => {
  const m = bytes(hdr(3, Command.DEVICE_RESET, 16));
  assert.equal(openMessage(m).payload.length, 0);
  assertErrno(() => openMessage(bytes(hdr(3, 13, 20))), 'EINVAL', /header says 20 bytes but the message has 16/);
  assertErrno(() => openMessage(bytes(hdr(3, 13, 16), [0])), 'EINVAL', /header says 16 bytes but the message has 17/);
  assertErrno(() => openMessage(new Uint8Array(3)), 'EINVAL');
});

test('openMessage returns a payload view', () => {
  const m = bytes(hdr(3, Command.REGION_WRITE, 20), [1, 2, 3, 4]);
  const { payload, header } = openMessage(m);
  assert.deepEqual([...payload], [1, 2, 3, 4]);
  assert.equal(header.msgId, 3);
  assert.equal(payload.buffer, m.buffer);
});

test('openCommand / openReply check type and command', () => {
  const cmd = bytes(hdr(3, Command.DEVICE_RESET, 16));
  const reply = bytes(hdr(3, Command.DEVICE_RESET, 16, 1));
  openCommand(cmd, Command.DEVICE_RESET);
  openReply(reply, Command.DEVICE_RESET);
  assertErrno(() => openCommand(reply, Command.DEVICE_RESET), 'EINVAL', /got a reply/);
  assertErrno(() => openReply(cmd, Command.DEVICE_RESET), 'EINVAL', /got a command/);
  assertErrno(() => openCommand(cmd, Command.DMA_MAP), 'EINVAL', /expected a DMA_MAP command, got DEVICE_RESET/);
  assertErrno(() => openReply(reply, Command.DMA_MAP), 'EINVAL', /expected a DMA_MAP reply/);
});

test('openReply turns an error reply into the peer error', () => {
  const e = assertErrno(() => openReply(bytes(hdr(3, Command.DMA_MAP, 16, 1 | FLAG_ERROR, 17)), Command.DMA_MAP), 'EEXIST');
  assert.ok(e instanceof PeerError);
  assert.equal((e as PeerError).peerErrno, 17);
  const z = assertErrno(() => openReply(bytes(hdr(3, Command.DMA_MAP, 16, 1 | FLAG_ERROR, 0)), Command.DMA_MAP), 'EIO');
  assert.match(z.message, /no errno/);
});

test('message size limits leave room for data and fixed parts', () => {
  assert.equal(maxMessageSizeFor(1 << 20), 16 + 8192 + (1 << 20));
  assert.equal(DEFAULT_MAX_MESSAGE_SIZE, maxMessageSizeFor(1 << 20));
  // A full QEMU REGION_WRITE_MULTI (200 entries) fits the allowance.
  assert.ok(16 + 8 + 200 * 24 <= maxMessageSizeFor(0));
});
