// The 16-byte header in front of every vfio-user message, and message sizes.
//
//   offset 0  u16 message id   chosen by the sender of a command, echoed by its reply
//   offset 2  u16 command      see commands.ts; a reply repeats its request's
//   offset 4  u32 size         of the whole message, this header included
//   offset 8  u32 flags        bits 0-3 type (0 command, 1 reply), bit 4 no-reply,
//                              bit 5 error; bits 6-31 reserved (zero)
//   offset 12 u32 errno        in an error reply (may be 0); reserved (zero) in a command
//
// The payload that follows is the command's own structure; its offsets in the
// specification (and in these codecs) count from the end of the header.

import { fail } from '../errors.js';
import { hex } from '../util/format.js';
import { isKnownCommand, commandName } from './commands.js';
import { checkU16, checkU32, readU16, readU32, writeU16, writeU32 } from './wire.js';

/** Size of the header in front of every message (16 bytes). */
export const HEADER_SIZE = 16;

/** Message types of the header's flags bits 0-3: command 0, reply 1. */
export const MessageType = { COMMAND: 0, REPLY: 1 } as const;
/** A message type value (0 command, 1 reply). */
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** Bits 0-3: the message type. */
export const FLAG_TYPE_MASK = 0x0f;
/** Bit 4, commands only: the sender wants no reply. */
export const FLAG_NO_REPLY = 0x10;
/** Bit 5, replies only: the command failed; the errno field says why (or is 0). */
export const FLAG_ERROR = 0x20;
/** Bits 6-31 are reserved and must be zero. */
export const FLAGS_RESERVED_MASK = ~0x3f >>> 0;

/**
 * Default of the `max_data_xfer_size` capability (the most data one
 * REGION_READ/WRITE or DMA_READ/WRITE may carry) when a peer does not state it.
 */
export const DEFAULT_MAX_DATA_XFER_SIZE = 1024 * 1024;

/**
 * Room for every fixed part and small variable part of a message (the largest
 * is a full REGION_WRITE_MULTI: 8 + 200 * 24 bytes) on top of its data.
 */
export const MESSAGE_SIZE_ALLOWANCE = 8192;

/**
 * The largest message a receiver needs to accept when the data it agreed to
 * carry per message is `maxDataXferSize`. Dirty bitmaps (DMA_UNMAP with
 * GET_DIRTY_BITMAP, DMA_LOGGING_REPORT) are bounded separately by whoever asks
 * for them; a receiver expecting large ones raises its limit.
 */
export function maxMessageSizeFor(maxDataXferSize: number): number {
  return HEADER_SIZE + MESSAGE_SIZE_ALLOWANCE + maxDataXferSize;
}

/** Largest message a receiver accepts by default: the allowance plus the default max_data_xfer_size (1 MiB). */
export const DEFAULT_MAX_MESSAGE_SIZE = maxMessageSizeFor(DEFAULT_MAX_DATA_XFER_SIZE);

/** The five fields of a message header. */
export interface Header {
  msgId: number;
  command: number;
  /** Size of the whole message, header included. */
  size: number;
  flags: number;
  errno: number;
}

// Each field read in place, allocating nothing: the synchronous client checks
// replies where they lie in its receive buffer.
/** The message ID field (u16 at 0) of the header at `at`, read in place. */
export const headerMsgId = (b: Uint8Array, at = 0): number => readU16(b, at);
/** The command field (u16 at 2) of the header at `at`, read in place. */
export const headerCommand = (b: Uint8Array, at = 0): number => readU16(b, at + 2);
/** The size field (u32 at 4: whole message, header included) of the header at `at`, read in place. */
export const headerSize = (b: Uint8Array, at = 0): number => readU32(b, at + 4);
/** The flags field (u32 at 8) of the header at `at`, read in place. */
export const headerFlags = (b: Uint8Array, at = 0): number => readU32(b, at + 8);
/** The errno field (u32 at 12) of the header at `at`, read in place. */
export const headerErrno = (b: Uint8Array, at = 0): number => readU32(b, at + 12);

/** Reads the five header fields; `b` must hold at least 16 bytes from `offset`. */
export function readHeader(b: Uint8Array, offset = 0): Header {
  if (b.length - offset < HEADER_SIZE) {
    throw fail('EINVAL', `message of ${b.length - offset} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  }
  return {
    msgId: headerMsgId(b, offset),
    command: headerCommand(b, offset),
    size: headerSize(b, offset),
    flags: headerFlags(b, offset),
    errno: headerErrno(b, offset),
  };
}

/** Writes a header without allocating (the hot-path encoders use this). */
export function writeHeaderFields(
  b: Uint8Array,
  msgId: number,
  command: number,
  size: number,
  flags: number,
  errno: number,
  offset = 0,
): void {
  writeU16(b, offset, msgId);
  writeU16(b, offset + 2, command);
  writeU32(b, offset + 4, size);
  writeU32(b, offset + 8, flags);
  writeU32(b, offset + 12, errno);
}

/** Writes `h` after checking every field fits its width. */
export function writeHeader(b: Uint8Array, h: Header, offset = 0): void {
  checkU16(h.msgId, 'message id');
  checkU16(h.command, 'command');
  checkU32(h.size, 'message size');
  checkU32(h.flags, 'flags');
  checkU32(h.errno, 'errno');
  if (b.length - offset < HEADER_SIZE) throw fail('EMSGSIZE', `no room for a header at offset ${offset}`);
  writeHeaderFields(b, h.msgId, h.command, h.size, h.flags, h.errno, offset);
}

/** A 16-byte buffer holding header `h`; throws EINVAL for a field wider than its u16/u32. */
export function encodeHeader(h: Header): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  writeHeader(b, h);
  return b;
}

/** The message type (flags bits 0-3). */
export function messageType(h: Header): number {
  return h.flags & FLAG_TYPE_MASK;
}

/** The flags word of a command: its type, and the no-reply bit if `flags` asks for it (EINVAL for any other bit). */
export function commandFlags(flags: number): number {
  if (flags & ~FLAG_NO_REPLY) throw fail('EINVAL', `a command may only carry the no-reply flag, got ${hex(flags)}`);
  return MessageType.COMMAND | flags;
}

/** Whether the header's type is command. */
export function isCommand(h: Header): boolean {
  return messageType(h) === MessageType.COMMAND;
}

/** Whether the header's type is reply. */
export function isReply(h: Header): boolean {
  return messageType(h) === MessageType.REPLY;
}

/** Whether the header is a reply with the error flag set (the command failed). */
export function isErrorReply(h: Header): boolean {
  return isReply(h) && (h.flags & FLAG_ERROR) !== 0;
}

/** A command without the no-reply bit must be answered. */
export function wantsReply(h: Header): boolean {
  return isCommand(h) && (h.flags & FLAG_NO_REPLY) === 0;
}

/**
 * Checks what a header says about itself: a size of at least the header, a
 * known type, zero reserved bits, no-reply only on commands, error and errno
 * only on replies, and a command number the specification defines. A header
 * that fails here still frames its message (its size is known), so the
 * message can be answered with this error and skipped: EINVAL for a malformed
 * header, ENOSYS for an unknown command.
 */
export function validateHeader(h: Header): void {
  if (h.size < HEADER_SIZE) throw fail('EINVAL', `message size ${h.size} is smaller than the header`);
  const type = messageType(h);
  if (type !== MessageType.COMMAND && type !== MessageType.REPLY) {
    throw fail('EINVAL', `message type ${type} is neither command (0) nor reply (1)`);
  }
  if ((h.flags & FLAGS_RESERVED_MASK) !== 0) {
    throw fail('EINVAL', `reserved flag bits set: flags ${hex(h.flags)}`);
  }
  if (type === MessageType.COMMAND) {
    if (h.flags & FLAG_ERROR) throw fail('EINVAL', `error flag set on a command (flags ${hex(h.flags)})`);
    if (h.errno !== 0) throw fail('EINVAL', `errno field is reserved in a command, got ${h.errno}`);
  } else {
    if (h.flags & FLAG_NO_REPLY) throw fail('EINVAL', `no-reply flag set on a reply (flags ${hex(h.flags)})`);
    if (h.errno !== 0 && !(h.flags & FLAG_ERROR)) {
      throw fail('EINVAL', `errno ${h.errno} in a reply without the error flag`);
    }
  }
  if (!isKnownCommand(h.command)) throw fail('ENOSYS', `unknown ${commandName(h.command)}`);
}
