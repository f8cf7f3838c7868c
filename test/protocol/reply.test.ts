// Reply helpers: the error reply and success header for a request, and the
// errno a thrown error maps to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrnoError, fail } from '../../src/errors.js';
import {
  Command,
  PeerError,
  encodeErrorReply,
  encodeErrorReplyInto,
  encodeReply,
  encodeReplyHeaderInto,
  errnoForError,
  errorReplyHeader,
  openReply,
  peerErrorOf,
  readHeader,
  replyHeader,
  validateHeader,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr } from './helpers.js';

const req = { msgId: 7, command: Command.REGION_READ };

test('error reply: header only, flags reply|error, the errno, the request id and command', () => {
  assert.deepEqual(encodeErrorReply(req, 'EINVAL'), bytes(hdr(7, 9, 16, 0x21, 22)));
  assert.deepEqual(encodeErrorReply(req, 14), bytes(hdr(7, 9, 16, 0x21, 14)));
  assert.deepEqual(errorReplyHeader(req, 'ENOSYS'), { msgId: 7, command: 9, size: 16, flags: 0x21, errno: 38 });
  validateHeader(errorReplyHeader(req, 'E2BIG'));
});

test('error reply into a caller buffer', () => {
  const b = Buffer.alloc(64, 0xaa);
  assert.equal(encodeErrorReplyInto(b, 0xbeef, Command.DMA_READ, 1), 16);
  assert.deepEqual(b.subarray(0, 16), bytes(hdr(0xbeef, 11, 16, 0x21, 1)));
  assert.equal(b[16], 0xaa);
});

test('error reply refuses unknown errno names', () => {
  assert.throws(() => encodeErrorReply(req, 'ENOPE'), TypeError);
});

test('success reply header and whole reply', () => {
  assert.deepEqual(replyHeader(req, 20), { msgId: 7, command: 9, size: 36, flags: 1, errno: 0 });
  assert.deepEqual(encodeReply(req), bytes(hdr(7, 9, 16, 1)));
  assert.deepEqual(encodeReply(req, Buffer.from([1, 2])), bytes(hdr(7, 9, 18, 1), [1, 2]));
  const b = Buffer.alloc(32);
  assert.equal(encodeReplyHeaderInto(b, 7, 9, 4), 16);
  assert.deepEqual(readHeader(b), { msgId: 7, command: 9, size: 20, flags: 1, errno: 0 });
});

test('errnoForError: our errors keep their errno, anything else is EIO', () => {
  assert.equal(errnoForError(fail('E2BIG', 'x')), 7);
  assert.equal(errnoForError(new ErrnoError('ENOTTY', 'x')), 25);
  assert.equal(errnoForError(new TypeError('bug')), 5);
  assert.equal(errnoForError('string'), 5);
});

test('PeerError carries the peer errno, EIO when it is 0 or unknown', () => {
  const e = peerErrorOf({ msgId: 1, command: Command.DMA_MAP, size: 16, flags: 0x21, errno: 17 });
  assert.ok(e instanceof PeerError && e instanceof ErrnoError);
  assert.equal(e.code, 'EEXIST');
  assert.equal(e.errno, 17);
  assert.match(e.message, /DMA_MAP failed: EEXIST/);
  const unknown = new PeerError(Command.DMA_MAP, 4000);
  assert.equal(unknown.code, 'EIO');
  assert.equal(unknown.peerErrno, 4000);
  assertErrno(() => openReply(encodeErrorReply(req, 'EFAULT'), Command.REGION_READ), 'EFAULT');
});
