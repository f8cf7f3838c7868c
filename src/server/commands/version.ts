// VERSION: the handshake. The first message of a connection; it settles the
// capabilities both sides use and makes the client the device's owner.

import { fail } from '../../errors.js';
import {
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  decodeVersionPayload,
  encodeVersionReply,
  negotiateVersion,
  type Header,
} from '../../protocol/index.js';
import { isPromise, type MaybePromise } from '../../util/promise.js';
import type { CommandContext } from './context.js';

export function onVersion(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): MaybePromise<Uint8Array> {
  if (ctx.state !== 'handshake') throw fail('EINVAL', 'VERSION was already negotiated');
  if (fds.length) throw fail('EINVAL', `VERSION: ${fds.length} descriptors, none allowed`);
  const hello = decodeVersionPayload(p);
  const l = ctx.limits;
  const { reply, session } = negotiateVersion(hello, {
    major: PROTOCOL_MAJOR,
    minor: PROTOCOL_MINOR,
    capabilities: {
      maxMsgFds: l.maxMsgFds,
      maxDataXferSize: l.maxDataXferSize,
      maxDmaMaps: l.maxDmaMaps,
      pgsizes: l.pageSize,
      writeMultiple: l.writeMultiple,
      twinSocket: { supported: false },
    },
  });
  const grant = (): Uint8Array => {
    ctx.becomeOwner(session);
    return encodeVersionReply(h.msgId, reply);
  };
  const r = ctx.acquire();
  return isPromise(r) ? r.then(grant) : grant();
}
