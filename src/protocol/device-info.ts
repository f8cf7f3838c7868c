// VFIO_USER_DEVICE_GET_INFO: the device's kind, whether it resets, and how
// many regions and interrupt types it has (struct vfio_device_info without
// its capability chain).
//
// Request and reply payload (16 bytes):
//   0 u32 argsz  4 u32 flags (deviceFlags of uapi: bit 0 RESET, bit 1 PCI)  8 u32 num_regions  12 u32 num_irqs
// In the request argsz is the room the client has for the reply (at least 16,
// like the kernel's minimum size: EINVAL below) and every other field is zero.
// The reply's argsz is the size of the full reply (16 today); a reply never
// carries more than the request's argsz, so a larger argsz in a reply means the
// client should ask again with more room.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newReply, openCommand, openReply } from './message.js';
import { decodeInfoQuery, encodeInfoQuery, type InfoQuery } from './info-query.js';
import { struct } from './struct.js';
import { checkU32, requireLength } from './wire.js';
import { deviceFlags, pciIrq, pciRegion } from '../uapi/vfio.js';

/** struct vfio_device_info without its capability chain: request and reply. */
const DEVICE_INFO = struct('DEVICE_GET_INFO', [
  ['argsz', 'u32'],
  ['flags', 'u32'],
  ['numRegions', 'u32'],
  ['numIrqs', 'u32'],
] as const);
/** Size of the DEVICE_GET_INFO payload (struct vfio_device_info without capabilities, 16 bytes). */
export const DEVICE_INFO_SIZE = DEVICE_INFO.size;
const QUERY: InfoQuery = { command: Command.DEVICE_GET_INFO, name: 'DEVICE_GET_INFO', layout: DEVICE_INFO, minimum: 'reply' };

/** Regions a PCI device has at least: BAR0-5, ROM, config space, VGA. */
export const PCI_NUM_REGIONS = pciRegion.NUM_REGIONS;
/** Interrupt types of a PCI device: INTx, MSI, MSI-X, ERR, REQ. */
export const PCI_NUM_IRQS = pciIrq.NUM_IRQS;

/** What a server reports about its device: flags (RESET, PCI) and the number of regions and interrupt types. */
export interface DeviceInfo {
  flags: number;
  numRegions: number;
  numIrqs: number;
}

/** A decoded DEVICE_GET_INFO reply. */
export interface DeviceInfoReply extends DeviceInfo {
  argsz: number;
  /** The server needs more room than the request gave (argsz above the payload). */
  truncated: boolean;
}

/** Encodes DEVICE_GET_INFO with `argsz` bytes of room for the reply; EINVAL for argsz below 16. */
export function encodeDeviceGetInfoRequest(msgId: number, argsz = DEVICE_INFO_SIZE, flags = 0): Buffer {
  return encodeInfoQuery(QUERY, msgId, 0, argsz, flags);
}

/** Decodes the request and returns its argsz (the room for the reply). */
export function decodeDeviceGetInfoRequestPayload(p: Uint8Array, fds: readonly number[] = []): { argsz: number } {
  return { argsz: decodeInfoQuery(QUERY, p, fds, undefined).argsz };
}

/** Decodes a DEVICE_GET_INFO command and returns its argsz; EINVAL when malformed (wrong size, argsz below 16, nonzero fields, descriptors). */
export function decodeDeviceGetInfoRequest(message: Uint8Array, fds: readonly number[] = []): { argsz: number } {
  return decodeDeviceGetInfoRequestPayload(openCommand(message, Command.DEVICE_GET_INFO).payload, fds);
}

function checkInfo(info: DeviceInfo): void {
  checkU32(info.flags, 'device flags');
  checkU32(info.numRegions, 'num_regions');
  checkU32(info.numIrqs, 'num_irqs');
  if (info.flags & deviceFlags.PCI && info.numRegions < PCI_NUM_REGIONS) {
    throw fail('EINVAL', `DEVICE_GET_INFO: a PCI device has at least ${PCI_NUM_REGIONS} regions, not ${info.numRegions}`);
  }
}

/**
 * The reply to a request whose argsz is `requestArgsz`: argsz 16, and the
 * whole structure (the request's argsz is at least 16, or it was refused).
 */
export function encodeDeviceGetInfoReply(msgId: number, requestArgsz: number, info: DeviceInfo): Buffer {
  checkInfo(info);
  if (requestArgsz < DEVICE_INFO_SIZE) {
    throw fail('EINVAL', `DEVICE_GET_INFO: argsz ${requestArgsz} is smaller than the ${DEVICE_INFO_SIZE}-byte reply`);
  }
  const b = newReply(msgId, Command.DEVICE_GET_INFO, DEVICE_INFO_SIZE);
  DEVICE_INFO.write(b, { argsz: DEVICE_INFO_SIZE, flags: info.flags, numRegions: info.numRegions, numIrqs: info.numIrqs }, HEADER_SIZE);
  return b;
}

/**
 * Decodes the reply: 16 bytes with argsz at least 16; a PCI device must
 * declare at least the 9 standard regions.
 */
export function decodeDeviceGetInfoReply(message: Uint8Array): DeviceInfoReply {
  const p = openReply(message, Command.DEVICE_GET_INFO).payload;
  requireLength(p, DEVICE_INFO_SIZE, 'DEVICE_GET_INFO reply');
  const { argsz, ...info } = DEVICE_INFO.read(p);
  if (argsz < DEVICE_INFO_SIZE) throw fail('EINVAL', `DEVICE_GET_INFO reply: argsz ${argsz} is below ${DEVICE_INFO_SIZE}`);
  checkInfo(info);
  return { argsz, truncated: argsz > DEVICE_INFO_SIZE, ...info };
}
