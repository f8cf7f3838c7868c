// Errors for people: what went wrong, and what to do about it.

import { VfioTsError } from '../errors.js';

/** Advice by error code, left out when the message already says it (`said`). */
const ADVICE: Record<string, { hint: string; said: RegExp }> = {
  ENOENT: { hint: 'check the path; is the server running (vfio-ts serve ...)?', said: /server running|does not exist|no such file/i },
  ECONNREFUSED: { hint: 'nothing is listening there: the server may have exited; start it again', said: /nothing (is )?listen/i },
  EACCES: {
    hint: 'permission denied: ask the owner of the socket or device to allow you (--allow-uid, vfio-ts bind --user)',
    said: /--allow-uid/,
  },
  EPERM: { hint: 'not permitted: this needs other privileges (root for bind/unbind)', said: /needs root|privilege/i },
  EBUSY: { hint: 'the device is busy: another client owns it; wait until it disconnects', said: /refusing|busy/i },
  EPROTO: { hint: 'the peer does not speak vfio-user (or broke the protocol): is that the right socket?', said: /right socket/ },
  ETIMEDOUT: { hint: 'the peer did not answer in time: is it stuck?', said: /stuck/ },
  ECONNRESET: { hint: 'the server closed the connection', said: /closed/ },
};

/** A one-paragraph message for an error thrown by a command. */
export function explain(err: unknown): string {
  if (err instanceof VfioTsError) {
    const own = (err as { hint?: string }).hint;
    const advice = ADVICE[err.code];
    const hint = own ?? (advice && !advice.said.test(err.message) ? advice.hint : undefined);
    return `vfio-ts: ${err.message}${hint && !err.message.includes(hint) ? `\n  ${hint}` : ''}`;
  }
  if (err instanceof Error) return `vfio-ts: ${err.message}`;
  return `vfio-ts: ${String(err)}`;
}
