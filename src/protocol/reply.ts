// Replies in general: the success header and the error reply for a request,
// and the error a peer reported.
//
// A reply carries the message id and command of its request with type 1 in
// the flags. A failed command is answered with the header alone: flags
// reply|error and the errno in the last field (the specification allows 0
// there; we always send the real errno). The receiving side turns such a reply
// into a PeerError, an ErrnoError whose `code` is the peer's errno name, so the
// caller can tell "the server said EINVAL" from "the reply was malformed"
// (plain ErrnoError) by class.

import { type ErrnoName, ErrnoError, VfioTsError, errnoName, errnoOf, isErrnoName } from '../errors.js';
import { commandName } from './commands.js';
import { FLAG_ERROR, HEADER_SIZE, MessageType, type Header, writeHeaderFields } from './header.js';
import { checkU16, checkU32 } from './wire.js';

/** The peer answered a command with the error flag; `code` is its errno name. */
export class PeerError extends ErrnoError {
  /** The errno number the peer sent (0 when it sent none). */
  readonly peerErrno: number;
  readonly command: number;

  constructor(command: number, peerErrno: number) {
    const code = knownErrnoName(peerErrno);
    super(
      code ?? 'EIO',
      peerErrno === 0
        ? `${commandName(command)} failed: the peer gave no errno`
        : `${commandName(command)} failed: ${code ?? `errno ${peerErrno}`}`,
    );
    this.peerErrno = peerErrno;
    this.command = command;
  }
}

function knownErrnoName(n: number): ErrnoName | undefined {
  if (n === 0) return undefined;
  const name = errnoName(n);
  return isErrnoName(name) ? name : undefined;
}

/** The error a reply header with the error flag stands for. */
export function peerErrorOf(h: Header): PeerError {
  return new PeerError(h.command, h.errno);
}

function errnoNumber(errno: number | string): number {
  return typeof errno === 'string' ? errnoOf(errno) : checkU32(errno, 'errno');
}

/**
 * The errno to answer a failed command with: the error's own errno when it
 * is one of ours, EIO for anything else (a bug should not pass for EINVAL).
 */
export function errnoForError(err: unknown): number {
  if (err instanceof VfioTsError && err.errno !== undefined) return err.errno;
  return errnoOf('EIO');
}

/** Header of the error reply to `request`: the header is the whole message. */
export function errorReplyHeader(request: Pick<Header, 'msgId' | 'command'>, errno: number | string): Header {
  return {
    msgId: request.msgId,
    command: request.command,
    size: HEADER_SIZE,
    flags: MessageType.REPLY | FLAG_ERROR,
    errno: errnoNumber(errno),
  };
}

/** The error reply to `request`: the header alone with flags reply|error and `errno` (a number, or a name like "EINVAL"); throws EINVAL for a number that is not a u32, TypeError for an unknown name. */
export function encodeErrorReply(request: Pick<Header, 'msgId' | 'command'>, errno: number | string): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  encodeErrorReplyInto(b, request.msgId, request.command, errnoNumber(errno));
  return b;
}

/** Allocation-free error reply; returns its length (16). */
export function encodeErrorReplyInto(b: Uint8Array, msgId: number, command: number, errno: number): number {
  writeHeaderFields(b, msgId, command, HEADER_SIZE, MessageType.REPLY | FLAG_ERROR, errno);
  return HEADER_SIZE;
}

/** Header of a successful reply to `request` carrying `payloadLength` bytes. */
export function replyHeader(request: Pick<Header, 'msgId' | 'command'>, payloadLength: number): Header {
  return {
    msgId: request.msgId,
    command: request.command,
    size: checkU32(HEADER_SIZE + payloadLength, 'message size'),
    flags: MessageType.REPLY,
    errno: 0,
  };
}

/** Allocation-free success reply header; the payload goes at offset 16. Returns 16. */
export function encodeReplyHeaderInto(b: Uint8Array, msgId: number, command: number, payloadLength: number): number {
  writeHeaderFields(b, msgId, command, HEADER_SIZE + payloadLength, MessageType.REPLY, 0);
  return HEADER_SIZE;
}

/** A whole successful reply to `request`: header plus `payload` (possibly empty). */
export function encodeReply(request: Pick<Header, 'msgId' | 'command'>, payload?: Uint8Array): Buffer {
  checkU16(request.msgId, 'message id');
  checkU16(request.command, 'command');
  const n = payload?.length ?? 0;
  const b = Buffer.alloc(HEADER_SIZE + n);
  encodeReplyHeaderInto(b, request.msgId, request.command, n);
  if (payload) b.set(payload, HEADER_SIZE);
  return b;
}
