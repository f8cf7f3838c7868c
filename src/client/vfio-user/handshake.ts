// The VERSION handshake of a vfio-user client: our offer (protocol 0.2, our
// limits), the server's reply, and the session both sides then keep to.

import {
  Command,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  acceptVersionReply,
  decodeVersionReply,
  encodeVersionRequest,
  type VersionOffer,
  type VersionSession,
} from '../../protocol/index.js';
import { closeFd } from '../../sys/fd.js';
import type { SyncChannel } from './channel.js';

/** Descriptors we accept in one message (max_msg_fds). */
export const MAX_FDS = 8;

/** Offers our limits over `channel` and returns the session the server's reply settles. */
export function handshake(channel: SyncChannel, maxDataXferSize: number): VersionSession {
  const offer: VersionOffer = {
    major: PROTOCOL_MAJOR,
    minor: PROTOCOL_MINOR,
    capabilities: { maxMsgFds: MAX_FDS, maxDataXferSize, pgsizes: 4096, maxDmaMaps: 65535 },
  };
  const req = encodeVersionRequest(channel.nextId(), offer);
  const at = channel.roundTrip(req, req.length, null, Command.VERSION);
  const fds = channel.takeFds();
  try {
    return acceptVersionReply(offer, decodeVersionReply(channel.message(at)), fds.length);
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}
