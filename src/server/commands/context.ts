// What a command handler sees of its session, and what it gives back.
//
// A handler decodes its command, does the work (mostly through the served
// device) and RETURNS the whole reply message - or a promise of it - or
// THROWS an errno-bearing error. It never sends: the session answers every
// command in one place (the reply, or the error reply with the thrown
// errno), and skips the answer when the command asked for none.

import type { Header, VersionSession } from '../../protocol/index.js';
import type { MaybePromise } from '../../util/promise.js';
import type { DmaSpace } from '../dma-space.js';
import type { ServedDevice } from '../served-device.js';
import type { SessionLimits, SessionState } from '../session-types.js';

/** A reply that carries descriptors (GET_REGION_INFO's memfd); they stay the sender's. */
export interface ReplyWithFds {
  message: Uint8Array;
  fds: readonly number[];
}

/** What a handler answers: the whole reply message, with its descriptors when it has some. */
export type CommandReply = Uint8Array | ReplyWithFds;

export interface CommandContext {
  readonly device: ServedDevice;
  readonly limits: SessionLimits;
  readonly state: SessionState;
  /** What the handshake settled (undefined before VERSION). */
  readonly version: VersionSession | undefined;
  /** The client's DMA maps; EINVAL before VERSION. */
  dmaSpace(): DmaSpace;
  /** The session's reply buffer: room for a region access reply of max_data_xfer_size bytes. Valid until the reply is sent. */
  replyBuffer(): Uint8Array;
  /** Asks the server for the device (EBUSY when another client owns it; may wait for a release in progress). */
  acquire(): MaybePromise<void>;
  /** The handshake succeeded: the client owns the device from now on (ECONNRESET if the connection closed meanwhile). */
  becomeOwner(version: VersionSession): void;
}

/** Handles one command: `payload` follows the header; `fds` came with the message (the session closes those left in it). */
export type CommandHandler = (ctx: CommandContext, h: Header, payload: Uint8Array, fds: number[]) => MaybePromise<CommandReply>;
