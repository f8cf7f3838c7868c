// VFIO_USER_DEVICE_RESET: reset the device. Neither the request nor the reply
// has a payload; the reset may take arbitrarily long before the reply comes.

import { Command } from './commands.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import { requireLength, requireNoFds } from './wire.js';

/** Encodes DEVICE_RESET (no payload). */
export function encodeDeviceResetRequest(msgId: number, flags = 0): Buffer {
  return newCommand(msgId, Command.DEVICE_RESET, 0, flags);
}

/** The request has no payload and no descriptors (EINVAL otherwise). */
export function decodeDeviceResetRequest(message: Uint8Array, fds: readonly number[] = []): void {
  const { payload } = openCommand(message, Command.DEVICE_RESET);
  requireNoFds(fds, 'DEVICE_RESET');
  requireLength(payload, 0, 'DEVICE_RESET');
}

/** The DEVICE_RESET reply (no payload). */
export function encodeDeviceResetReply(msgId: number): Buffer {
  return newReply(msgId, Command.DEVICE_RESET, 0);
}

/** Checks a DEVICE_RESET reply has no payload (EINVAL otherwise); an error reply throws PeerError. */
export function decodeDeviceResetReply(message: Uint8Array): void {
  requireLength(openReply(message, Command.DEVICE_RESET).payload, 0, 'DEVICE_RESET reply');
}
