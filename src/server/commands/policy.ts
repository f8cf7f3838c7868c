// What the server answers on its own behalf, whatever the device: the
// DEVICE_GET_INFO flags (a PCI device; reset when the device can do it), no
// ioeventfds in DEVICE_GET_REGION_IO_FDS, and refusals of what it does not
// implement - device features (DEVICE_FEATURE: ENOTTY, as the kernel answers
// an unknown feature, after the request is checked) and migration data
// (MIG_DATA_READ/WRITE: ENOTSUP).

import { fail } from '../../errors.js';
import {
  PCI_NUM_IRQS,
  PCI_NUM_REGIONS,
  decodeDeviceFeatureRequestPayload,
  decodeDeviceGetInfoRequestPayload,
  decodeMigDataReadRequestPayload,
  decodeMigDataWriteRequestPayload,
  decodeRegionIoFdsRequestPayload,
  encodeDeviceGetInfoReply,
  encodeRegionIoFdsReply,
  interpretDeviceFeatureRequest,
  type Header,
} from '../../protocol/index.js';
import { deviceFlags } from '../../uapi/vfio.js';
import type { CommandContext } from './context.js';

export function onDeviceInfo(ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): Uint8Array {
  const { argsz } = decodeDeviceGetInfoRequestPayload(p, fds);
  const flags = deviceFlags.PCI | (ctx.device.canReset === false ? 0 : deviceFlags.RESET);
  return encodeDeviceGetInfoReply(h.msgId, argsz, { flags, numRegions: PCI_NUM_REGIONS, numIrqs: PCI_NUM_IRQS });
}

export function onRegionIoFds(_ctx: CommandContext, h: Header, p: Uint8Array, fds: number[]): Uint8Array {
  const req = decodeRegionIoFdsRequestPayload(p, fds, { numRegions: PCI_NUM_REGIONS });
  // No ioeventfds are offered: count 0, no descriptors (libvfio-user's answer).
  return encodeRegionIoFdsReply(h.msgId, req.argsz, req.index, [], 0).message;
}

export function onDeviceFeature(_ctx: CommandContext, _h: Header, p: Uint8Array, fds: number[]): never {
  const req = decodeDeviceFeatureRequestPayload(p, fds);
  interpretDeviceFeatureRequest(req); // ENOTTY for unknown features, EINVAL for malformed data
  throw fail('ENOTTY', `DEVICE_FEATURE: feature ${req.feature} is not supported by this device`);
}

export function onMigDataRead(ctx: CommandContext, _h: Header, p: Uint8Array, fds: number[]): never {
  decodeMigDataReadRequestPayload(p, fds, { maxDataXferSize: ctx.limits.maxDataXferSize });
  throw fail('ENOTSUP', 'MIG_DATA_READ: the device does not support migration');
}

export function onMigDataWrite(ctx: CommandContext, _h: Header, p: Uint8Array, fds: number[]): never {
  decodeMigDataWriteRequestPayload(p, fds, { maxDataXferSize: ctx.limits.maxDataXferSize });
  throw fail('ENOTSUP', 'MIG_DATA_WRITE: the device does not support migration');
}
