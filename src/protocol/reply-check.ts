// In-place checks of a reply against the request it answers, for the hot
// paths (region-rw.ts, dma-rw.ts): they read the receive buffer where the
// reply lies and allocate nothing.

import { fail } from '../errors.js';
import { hex } from '../util/format.js';
import {
  FLAG_ERROR,
  FLAG_NO_REPLY,
  FLAG_TYPE_MASK,
  FLAGS_RESERVED_MASK,
  HEADER_SIZE,
  MessageType,
  headerCommand,
  headerErrno,
  headerFlags,
  headerMsgId,
  headerSize,
} from './header.js';
import { PeerError } from './reply.js';
import { readU64, u64Equals, type U64 } from './wire.js';

/**
 * The first `len` bytes of `m` are a successful reply to message `msgId` of
 * `command`: the header's size is `len`, its flags a plain reply. An error
 * reply throws PeerError; anything else malformed EINVAL.
 */
export function checkReplyHead(m: Uint8Array, len: number, command: number, msgId: number): void {
  if (len > m.length) throw fail('EINVAL', `reply length ${len} exceeds the ${m.length}-byte buffer`);
  if (len < HEADER_SIZE) throw fail('EINVAL', `reply of ${len} bytes is shorter than a header`);
  const flags = headerFlags(m);
  if (headerCommand(m) !== command) throw fail('EINVAL', `reply for command ${headerCommand(m)}, expected ${command}`);
  if (headerMsgId(m) !== msgId) throw fail('EINVAL', `reply to message ${headerMsgId(m)}, expected ${msgId}`);
  if ((flags & FLAG_TYPE_MASK) !== MessageType.REPLY || flags & FLAGS_RESERVED_MASK || flags & FLAG_NO_REPLY) {
    throw fail('EINVAL', `bad reply flags ${hex(flags)}`);
  }
  if (headerSize(m) !== len) throw fail('EINVAL', `header says ${headerSize(m)} bytes but the reply has ${len}`);
  if (flags & FLAG_ERROR) throw new PeerError(command, headerErrno(m));
  if (headerErrno(m) !== 0) throw fail('EINVAL', `errno ${headerErrno(m)} in a reply without the error flag`);
}

/** The u64 at `at` of the reply echoes the request's `expected` (an offset or address). */
export function checkEchoedU64(m: Uint8Array, at: number, expected: U64, field: string): void {
  const same = typeof expected === 'number' ? u64Equals(m, at, expected) : readU64(m, at) === expected;
  if (!same) throw fail('EINVAL', `reply ${field} ${hex(readU64(m, at))}, expected ${hex(expected)}`);
}
