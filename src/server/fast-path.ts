// The hot path: a chunk that is exactly one REGION_READ or REGION_WRITE,
// without descriptors, while the session is ready and idle (no command in
// progress or queued, no partial message in the framer, nobody tracing). It
// is handled straight from the receive buffer and answered from the reply
// buffer without allocating: no framed message, header or decoded object, no
// bigint offset, no promise unless the model returns one.
//
// It takes only a message that passes every check the general path makes -
// the framer's (size), validateHeader's (a command with no flag but
// no-reply, errno zero; REGION_READ/WRITE are known commands), the state's
// (past VERSION) and the region codecs' (no descriptors, payload length,
// count within max_data_xfer_size, region index in range, no wrap past 2^64)
// - and declines anything else, which then takes the general path and gets
// its error reply there. The device checks the range itself. Its replies and
// error replies go out through the session's one reply point, and the reply
// is the protocol's encodeRegionAccessReplyInto, as on the general path.

import {
  Command,
  FLAG_NO_REPLY,
  PCI_NUM_REGIONS,
  REGION_RW_DATA_OFFSET,
  encodeRegionAccessReplyInto,
  newRegionAccessFields,
  peekRegionAccess,
} from '../protocol/index.js';
import { isPromise, type MaybePromise } from '../util/promise.js';
import type { ServedDevice } from './served-device.js';

/** Sizes of region access whose buffer views are kept (a subarray is an allocation). */
const MAX_CACHED_VIEWS = 64;

/** Views for region accesses of one count, over the reply buffer and the last receive buffer. */
interface AccessViews {
  /** The data: reply buffer [32, 32 + count) (read into, or a write's data copied to). */
  data: Uint8Array;
  /** The whole REGION_READ reply: reply buffer [0, 32 + count). */
  readReply: Uint8Array;
  /** A REGION_WRITE's data in the receive buffer `from` ([32, 32 + count)). */
  src: Uint8Array | undefined;
  from: Uint8Array | undefined;
}

/** What the fast path needs from its session. */
export interface FastPathHost {
  readonly device: ServedDevice;
  readonly maxDataXferSize: number;
  /** Largest message the framer accepts. */
  readonly maxMessageSize: number;
  /** The session is ready and idle, nobody traces, the framer holds nothing: a message may skip the framer. */
  readonly fastPathOpen: boolean;
  replyBuffer(): Uint8Array;
  /** The session's reply point: the reply to a command with these flags. */
  answer(flags: number, reply: Uint8Array): void;
  /** The session's reply point: the error reply to a command that failed. */
  answerError(msgId: number, command: number, flags: number, err: unknown): void;
  /** An access went asynchronous: later commands wait for `p` (which never rejects). */
  hold(p: Promise<void>): void;
}

export class FastRegionPath {
  readonly #host: FastPathHost;
  readonly #fields = newRegionAccessFields();
  readonly #views = new Map<number, AccessViews>();
  /** The REGION_WRITE reply: reply buffer [0, 32). */
  #writeReply: Uint8Array | undefined;
  /** Accesses answered here (for tests). */
  accesses = 0;

  constructor(host: FastPathHost) {
    this.#host = host;
  }

  /** Handles the chunk `b[0, length)` if it is a plain region access; false to leave it to the general path. */
  take(b: Uint8Array, length: number): boolean {
    const host = this.#host;
    if (!host.fastPathOpen) return false;
    const f = this.#fields;
    if (!peekRegionAccess(b, length, f)) return false;
    // Framing: the chunk holds exactly one message (of an acceptable size).
    if (f.size !== length || length > host.maxMessageSize) return false;
    // Header (validateHeader): a command, only the no-reply flag, errno zero.
    if ((f.flags & ~FLAG_NO_REPLY) !== 0 || f.errno !== 0) return false;
    // Payload (the region codecs): count, region index, no wrap (a safe offset cannot wrap).
    if (f.count > host.maxDataXferSize || f.region >= PCI_NUM_REGIONS || !f.offsetSafe) return false;
    const read = f.command === Command.REGION_READ;
    if (read ? length !== REGION_RW_DATA_OFFSET : f.command !== Command.REGION_WRITE || length !== REGION_RW_DATA_OFFSET + f.count)
      return false;

    const { msgId, command, flags, region, offset, count } = f;
    const v = this.#accessViews(count);
    this.accesses++;
    let r: MaybePromise<void>;
    try {
      if (read) {
        v.data.fill(0);
        r = host.device.regionRead(region, offset, v.data);
      } else {
        // Copied out of the receive buffer, which the next chunk reuses while an asynchronous handler may still hold the data.
        v.data.set(this.#writeSource(b, v, count));
        r = host.device.regionWrite(region, offset, v.data);
      }
    } catch (err) {
      host.answerError(msgId, command, flags, err);
      return true;
    }
    if (!isPromise(r)) {
      host.answer(flags, this.#reply(msgId, command, region, offset, count, v));
      return true;
    }
    // An asynchronous model: later commands queue behind this one, as on the general path.
    host.hold(
      r.then(
        () => host.answer(flags, this.#reply(msgId, command, region, offset, count, v)),
        (err: unknown) => host.answerError(msgId, command, flags, err),
      ),
    );
    return true;
  }

  #reply(msgId: number, command: number, region: number, offset: number, count: number, v: AccessViews): Uint8Array {
    const buf = this.#host.replyBuffer();
    encodeRegionAccessReplyInto(buf, msgId, command, region, offset, count);
    if (command === Command.REGION_READ) return v.readReply;
    this.#writeReply ??= buf.subarray(0, REGION_RW_DATA_OFFSET);
    return this.#writeReply;
  }

  /** The views for accesses of `count` bytes (kept for a few sizes, made afresh beyond). */
  #accessViews(count: number): AccessViews {
    let v = this.#views.get(count);
    if (v !== undefined) return v;
    const buf = this.#host.replyBuffer();
    v = {
      data: buf.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + count),
      readReply: buf.subarray(0, REGION_RW_DATA_OFFSET + count),
      src: undefined,
      from: undefined,
    };
    if (this.#views.size >= MAX_CACHED_VIEWS) this.#views.clear();
    this.#views.set(count, v);
    return v;
  }

  /** A REGION_WRITE's data in receive buffer `b`. */
  #writeSource(b: Uint8Array, v: AccessViews, count: number): Uint8Array {
    if (v.from !== b) {
      v.src = b.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + count);
      v.from = b;
    }
    return v.src!;
  }
}
