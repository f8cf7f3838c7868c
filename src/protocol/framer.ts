// The stream framer: turns the bytes and descriptors read from a vfio-user
// socket into whole messages. A pure state machine with no I/O: the caller
// feeds each chunk recvmsg returned, with the descriptors that came with it,
// and gets back the messages the chunk completed.
//
// Framing needs only the size field of each header: a message is the 16
// header bytes plus size - 16 more. A message may be split across chunks at
// any byte, and one chunk may hold many messages. The framer checks only what
// framing depends on; everything else (flags, command, payload) is checked by
// the codecs afterwards, and a message that fails there is still framed, so the
// receiver answers it with an error reply and goes on.
//
// Descriptors. SCM_RIGHTS descriptors travel with the sendmsg that carried
// them, and the senders we talk to (QEMU, libvfio-user, vfio-ts) send each
// message that has descriptors with one sendmsg. On a Linux stream socket the
// kernel attaches them to that message's first byte; a recvmsg may return
// bytes of earlier messages in front of them but stops right after the data
// that carried them. So: the descriptors that come with a chunk belong to the
// last message that starts in that chunk; if no message starts in it (it only
// continues one), to the message it continues. Descriptors that cannot belong
// to any message (with an empty chunk between messages) break the stream.
//
// Errors here mean the byte stream can no longer be trusted to find the next
// message boundary (a size below 16, a size above the limit, more descriptors
// than allowed, stray descriptors): they are StreamError, always with code
// EPROTO, which no codec uses. The caller closes the connection, and closes the
// descriptors the error hands back (every one the framer held or was given in
// that call, including those of messages completed earlier in the same call,
// which are dropped). Once broken, the framer refuses further input.

import { ErrnoError } from '../errors.js';
import { DEFAULT_MAX_MESSAGE_SIZE, HEADER_SIZE, readHeader, type Header } from './header.js';
import { readU32 } from './wire.js';

/** Why a stream broke: a size below the header, a message above the limit, too many descriptors, descriptors between messages, or input after a break. */
export type StreamErrorReason = 'header-size' | 'too-large' | 'too-many-fds' | 'stray-fds' | 'broken';

/** The stream cannot be resynchronised: disconnect, and close `fds`. */
export class StreamError extends ErrnoError {
  declare readonly code: 'EPROTO';
  readonly reason: StreamErrorReason;
  /** The header of the offending message, when it was read. */
  readonly header: Header | undefined;
  /** Descriptors the framer gives back; the caller must close them. */
  readonly fds: number[];

  constructor(reason: StreamErrorReason, message: string, header: Header | undefined, fds: number[]) {
    super('EPROTO', message);
    this.reason = reason;
    this.header = header;
    this.fds = fds;
  }
}

/** Whether `e` is a {@link StreamError} (the connection must be closed). */
export function isStreamError(e: unknown): e is StreamError {
  return e instanceof StreamError;
}

/** One whole message the framer cut from the stream, with the descriptors that came with it. */
export interface FramedMessage {
  header: Header;
  /** The whole message, header included. */
  message: Uint8Array;
  /** Descriptors that arrived with it. */
  fds: number[];
}

/** Limits and copying policy of a {@link MessageFramer}. */
export interface FramerOptions {
  /** Largest message accepted, header included (default DEFAULT_MAX_MESSAGE_SIZE). */
  maxMessageSize?: number;
  /** Most descriptors one message may carry (our max_msg_fds; default 1, the specification's default). */
  maxFds?: number;
  /**
   * When false, a message lying wholly inside one chunk is returned as a view
   * of that chunk, valid only until the caller reuses the chunk's memory
   * (default true: every message is its own copy).
   */
  copy?: boolean;
}

/** Cuts the bytes and SCM_RIGHTS descriptors read from a vfio-user stream socket into whole messages; no I/O of its own. */
export class MessageFramer {
  readonly maxMessageSize: number;
  readonly maxFds: number;
  readonly copy: boolean;

  private readonly head = new Uint8Array(HEADER_SIZE);
  private headFill = 0;
  private header: Header | undefined;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private fds: number[] = [];
  private isBroken = false;

  constructor(opts: FramerOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFds = opts.maxFds ?? 1;
    this.copy = opts.copy ?? true;
    if (!Number.isInteger(this.maxMessageSize) || this.maxMessageSize < HEADER_SIZE) {
      throw new RangeError(`maxMessageSize ${this.maxMessageSize} is below the header size`);
    }
  }

  /** The framer threw a StreamError and refuses further input. */
  get broken(): boolean {
    return this.isBroken;
  }

  /** Bytes of an incomplete message held so far. */
  get pending(): number {
    return this.header ? HEADER_SIZE + this.bodyFill : this.headFill;
  }

  /**
   * Feeds one chunk and the descriptors received with it; returns the
   * messages it completed, in order. Throws StreamError when the stream is
   * broken.
   */
  push(chunk: Uint8Array, chunkFds: readonly number[] = []): FramedMessage[] {
    const out: FramedMessage[] = [];
    if (this.isBroken) throw this.fail('broken', 'the stream is already broken', undefined, out, chunkFds);

    const inProgressAtStart = this.pending > 0;
    // Where the chunk's descriptors go: 'current' = the message in progress at
    // the end of the chunk, or an index into `out`. -1 until a message starts.
    let lastStart: 'current' | number | -1 = -1;
    let continued: 'current' | number | -1 = inProgressAtStart ? 'current' : -1;

    let pos = 0;
    while (pos < chunk.length) {
      if (this.header === undefined) {
        if (this.headFill === 0) {
          lastStart = 'current';
          // Fast path: the whole message lies in this chunk.
          if (chunk.length - pos >= HEADER_SIZE) {
            const size = readU32(chunk, pos + 4);
            if (size >= HEADER_SIZE && size <= this.maxMessageSize && chunk.length - pos >= size) {
              const header = readHeader(chunk, pos);
              const view = chunk.subarray(pos, pos + size);
              out.push({ header, message: this.copy ? Buffer.from(view) : view, fds: [] });
              lastStart = out.length - 1;
              pos += size;
              continue;
            }
          }
        }
        const n = Math.min(HEADER_SIZE - this.headFill, chunk.length - pos);
        this.head.set(chunk.subarray(pos, pos + n), this.headFill);
        this.headFill += n;
        pos += n;
        if (this.headFill < HEADER_SIZE) break;
        const header = readHeader(this.head);
        if (header.size < HEADER_SIZE) {
          throw this.fail(
            'header-size',
            `message size ${header.size} is smaller than the ${HEADER_SIZE}-byte header`,
            header,
            out,
            chunkFds,
          );
        }
        if (header.size > this.maxMessageSize) {
          throw this.fail(
            'too-large',
            `message of ${header.size} bytes exceeds the ${this.maxMessageSize}-byte limit`,
            header,
            out,
            chunkFds,
          );
        }
        this.header = header;
        this.body = Buffer.allocUnsafe(header.size);
        this.body.set(this.head, 0);
        this.bodyFill = 0;
      }
      const header = this.header;
      const body = this.body!;
      const want = header.size - HEADER_SIZE - this.bodyFill;
      const n = Math.min(want, chunk.length - pos);
      body.set(chunk.subarray(pos, pos + n), HEADER_SIZE + this.bodyFill);
      this.bodyFill += n;
      pos += n;
      if (this.bodyFill === header.size - HEADER_SIZE) {
        out.push({ header, message: body, fds: this.fds });
        if (lastStart === 'current') lastStart = out.length - 1;
        if (continued === 'current') continued = out.length - 1;
        this.reset();
      }
    }

    if (chunkFds.length > 0) {
      const target = lastStart !== -1 ? lastStart : continued;
      if (target === -1) {
        throw this.fail('stray-fds', `${chunkFds.length} descriptors arrived between messages`, undefined, out, chunkFds);
      }
      const list = target === 'current' ? this.fds : out[target]!.fds;
      list.push(...chunkFds);
      if (list.length > this.maxFds) {
        const h = target === 'current' ? this.header : out[target]!.header;
        throw this.fail('too-many-fds', `a message carries ${list.length} descriptors, at most ${this.maxFds} allowed`, h, out, []);
      }
    }
    return out;
  }

  /**
   * At end of stream: forgets an incomplete message and returns how many of
   * its bytes had arrived and the descriptors it held (to close). A non-zero
   * `partialBytes` means the peer went away mid-message.
   */
  end(): { partialBytes: number; fds: number[] } {
    const r = { partialBytes: this.pending, fds: this.fds };
    this.reset();
    this.headFill = 0;
    return r;
  }

  private reset(): void {
    this.header = undefined;
    this.body = undefined;
    this.bodyFill = 0;
    this.headFill = 0;
    this.fds = [];
  }

  private fail(
    reason: StreamErrorReason,
    message: string,
    header: Header | undefined,
    completed: FramedMessage[],
    chunkFds: readonly number[],
  ): StreamError {
    const fds = [...completed.flatMap((m) => m.fds), ...this.fds, ...chunkFds];
    this.reset();
    this.isBroken = true;
    return new StreamError(reason, message, header, fds);
  }
}
