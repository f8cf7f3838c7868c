// A whole message: opening one received (header checks, then the payload) and
// allocating one to send.
//
// Every codec decodes either a whole message (what the framer yields) or just
// the payload once the caller has opened the message itself; the `open*`
// functions here are the shared first half. A reply with the error flag set
// opens into a PeerError carrying the peer's errno.

import { fail } from '../errors.js';
import { commandName } from './commands.js';
import {
  FLAG_ERROR,
  HEADER_SIZE,
  MessageType,
  commandFlags,
  isCommand,
  isReply,
  readHeader,
  validateHeader,
  writeHeaderFields,
  type Header,
} from './header.js';
import { peerErrorOf } from './reply.js';
import { checkU16, checkU32 } from './wire.js';

/** A received message split into its validated header and its payload. */
export interface OpenedMessage {
  header: Header;
  /** The bytes after the header (a view, not a copy). */
  payload: Uint8Array;
}

/**
 * Reads and validates the header of one whole message and checks its size
 * field against the bytes given (EINVAL if they differ).
 */
export function openMessage(message: Uint8Array): OpenedMessage {
  const header = readHeader(message);
  if (header.size !== message.length) {
    throw fail('EINVAL', `header says ${header.size} bytes but the message has ${message.length}`);
  }
  validateHeader(header);
  return { header, payload: message.subarray(HEADER_SIZE) };
}

/** Opens a command message of the given command (EINVAL for anything else). */
export function openCommand(message: Uint8Array, command: number): OpenedMessage {
  const m = openMessage(message);
  if (!isCommand(m.header)) {
    throw fail('EINVAL', `expected a ${commandName(command)} command, got a reply`);
  }
  if (m.header.command !== command) {
    throw fail('EINVAL', `expected a ${commandName(command)} command, got ${commandName(m.header.command)}`);
  }
  return m;
}

/**
 * Opens a reply to the given command. An error reply throws the peer's error
 * (PeerError) instead of returning.
 */
export function openReply(message: Uint8Array, command: number): OpenedMessage {
  const m = openMessage(message);
  if (!isReply(m.header)) {
    throw fail('EINVAL', `expected a ${commandName(command)} reply, got a command`);
  }
  if (m.header.command !== command) {
    throw fail('EINVAL', `expected a ${commandName(command)} reply, got ${commandName(m.header.command)}`);
  }
  if (m.header.flags & FLAG_ERROR) throw peerErrorOf(m.header);
  return m;
}

/** A zeroed command message with its header written; the payload starts at 16. */
export function newCommand(msgId: number, command: number, payloadLength: number, flags = 0): Buffer {
  checkU16(msgId, 'message id');
  const type = commandFlags(checkU32(flags, 'flags'));
  const size = checkU32(HEADER_SIZE + payloadLength, 'message size');
  const b = Buffer.alloc(size);
  writeHeaderFields(b, msgId, command, size, type, 0);
  return b;
}

/** A zeroed successful reply with its header written; the payload starts at 16. */
export function newReply(msgId: number, command: number, payloadLength: number): Buffer {
  checkU16(msgId, 'message id');
  const size = checkU32(HEADER_SIZE + payloadLength, 'message size');
  const b = Buffer.alloc(size);
  writeHeaderFields(b, msgId, command, size, MessageType.REPLY, 0);
  return b;
}

/** Checks that the caller's buffer can hold `size` bytes (for the *Into encoders). */
export function requireRoom(b: Uint8Array, size: number, what: string): void {
  if (b.length < size) throw fail('EMSGSIZE', `${what} needs ${size} bytes, buffer has ${b.length}`);
}
