// Errors for people: what went wrong, and what to do about it.

import { VfioTsError } from '../errors.js';

const ADVICE: Record<string, string> = {
  ENOENT: 'check the path; is the server running (vfio-ts serve ...)?',
  ECONNREFUSED: 'nothing is listening there: the server may have exited; start it again',
  EACCES: 'permission denied: ask the owner of the socket or device to allow you (--allow-uid, vfio-ts bind --user)',
  EPERM: 'not permitted: this needs other privileges (root for bind/unbind)',
  EBUSY: 'the device is busy: another client owns it; wait until it disconnects',
  EPROTO: 'the peer does not speak vfio-user (or broke the protocol): is that the right socket?',
  ETIMEDOUT: 'the peer did not answer in time: is it stuck?',
  ECONNRESET: 'the server closed the connection',
};

/** A one-paragraph message for an error thrown by a command. */
export function explain(err: unknown): string {
  if (err instanceof VfioTsError) {
    const hint = (err as { hint?: string }).hint ?? ADVICE[err.code];
    return `vfio-ts: ${err.message}${hint && !err.message.includes(hint) ? `\n  ${hint}` : ''}`;
  }
  if (err instanceof Error) return `vfio-ts: ${err.message}`;
  return `vfio-ts: ${String(err)}`;
}
