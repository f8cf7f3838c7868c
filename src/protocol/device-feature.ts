// VFIO_USER_DEVICE_FEATURE: get, set or probe a device feature (struct
// vfio_device_feature). The features vfio-user defines are those of VFIO
// migration v2 and device DMA logging (dirty tracking).
//
// Payload: 0 u32 argsz  4 u32 flags  8 data
//   flags bits 0-15 feature index, bit 16 GET, bit 17 SET, bit 18 PROBE.
//   GET and SET exclude each other unless PROBE is set; one of the three must be.
// argsz in the request is the room for the reply. A SET or PROBE reply is the
// request payload again (a SET may update the data, e.g. the page size DMA
// logging settled on); a GET reply carries the feature's data with argsz = 8 +
// its length, or, when that exceeds the request's argsz, just the 8-byte head
// with the needed argsz.
//
// Feature data:
//   1 MIGRATION (GET)            reply: u64 flags (STOP_COPY 1, P2P 2, PRE_COPY 4)
//   2 MIG_DEVICE_STATE (GET/SET) u32 device_state, u32 data_fd (unused here)
//   6 DMA_LOGGING_START (SET)    u64 page_size, u32 num_ranges, u32 reserved,
//                                num_ranges x {u64 iova, u64 length}
//   7 DMA_LOGGING_STOP (SET)     no data
//   8 DMA_LOGGING_REPORT (GET)   request: u64 iova, u64 length, u64 page_size;
//                                reply: the same then the bitmap, u64 words, one
//                                bit per page of the range
// An unknown feature index is ENOTTY (as the kernel answers); an operation a
// feature does not have, or malformed data, EINVAL.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import {
  checkU16,
  checkU32,
  checkU64,
  isPowerOfTwo,
  overflowsU64,
  readU32,
  readU64,
  requireAtLeast,
  requireLength,
  requireNoFds,
  requireZero,
  toBigInt,
  writeU32,
  writeU64,
  type U64,
} from './wire.js';
import { deviceFeature, migState } from '../uapi/vfio.js';

/** Size of the DEVICE_FEATURE head (u32 argsz, u32 flags) before the feature data. */
export const DEVICE_FEATURE_SIZE = 8;
/** DEVICE_FEATURE flags: the feature index (bits 15:0). */
export const DEVICE_FEATURE_MASK = deviceFeature.MASK;
/** DEVICE_FEATURE flag: read the feature's data. */
export const DEVICE_FEATURE_GET = deviceFeature.GET;
/** DEVICE_FEATURE flag: write the feature's data. */
export const DEVICE_FEATURE_SET = deviceFeature.SET;
/** DEVICE_FEATURE flag: only ask whether the feature (with GET and/or SET) is supported. */
export const DEVICE_FEATURE_PROBE = deviceFeature.PROBE;
const KNOWN_FLAGS = DEVICE_FEATURE_MASK | DEVICE_FEATURE_GET | DEVICE_FEATURE_SET | DEVICE_FEATURE_PROBE;

/** The features vfio-user carries (their numbers are the kernel's). */
export const Feature = {
  MIGRATION: deviceFeature.MIGRATION,
  MIG_DEVICE_STATE: deviceFeature.MIG_DEVICE_STATE,
  DMA_LOGGING_START: deviceFeature.DMA_LOGGING_START,
  DMA_LOGGING_STOP: deviceFeature.DMA_LOGGING_STOP,
  DMA_LOGGING_REPORT: deviceFeature.DMA_LOGGING_REPORT,
} as const;

/** Migration flag: the device supports the STOP_COPY states (every migratable device does). */
export const MIGRATION_STOP_COPY = 1n << 0n;
/** Migration flag: the device supports RUNNING_P2P. */
export const MIGRATION_P2P = 1n << 1n;
/** Migration flag: the device supports PRE_COPY. */
export const MIGRATION_PRE_COPY = 1n << 2n;
const MIGRATION_FLAGS = MIGRATION_STOP_COPY | MIGRATION_P2P | MIGRATION_PRE_COPY;

/** enum vfio_device_mig_state, as uapi defines it. */
export const DeviceState = migState;

/** Size of the MIG_DEVICE_STATE data (u32 device_state, u32 data_fd). */
export const MIG_STATE_DATA_SIZE = 8;
/** Size of the DMA_LOGGING_START data before its ranges (u64 page_size, u32 num_ranges, u32 reserved). */
export const DMA_LOGGING_CONTROL_SIZE = 16;
/** Size of one DMA_LOGGING_START range (u64 iova, u64 length). */
export const DMA_LOGGING_RANGE_SIZE = 16;
/** Size of the DMA_LOGGING_REPORT request data, and of its reply before the bitmap (u64 iova, length, page_size). */
export const DMA_LOGGING_REPORT_SIZE = 24;

/** A DEVICE_FEATURE operation. */
export type FeatureOp = 'get' | 'set' | 'probe';

/** A DEVICE_FEATURE request to encode. */
export interface DeviceFeatureArgs {
  feature: number;
  get?: boolean;
  set?: boolean;
  probe?: boolean;
  data?: Uint8Array;
  /** Room for the reply; defaults to 8 + data length. */
  argsz?: number;
}

/** A decoded DEVICE_FEATURE payload: the head's fields and the feature data. */
export interface DeviceFeatureMessage {
  argsz: number;
  flags: number;
  feature: number;
  get: boolean;
  set: boolean;
  probe: boolean;
  /** The bytes after the 8-byte head (a view into the message). */
  data: Uint8Array;
}

/** A decoded DEVICE_FEATURE reply. */
export interface DeviceFeatureReply extends DeviceFeatureMessage {
  /** A GET reply cut to its head: ask again with `argsz`. */
  truncated: boolean;
}

function featureFlags(a: DeviceFeatureArgs): number {
  checkU16(a.feature, 'feature index');
  return a.feature | (a.get ? DEVICE_FEATURE_GET : 0) | (a.set ? DEVICE_FEATURE_SET : 0) | (a.probe ? DEVICE_FEATURE_PROBE : 0);
}

function checkFlags(flags: number): void {
  if (flags & ~KNOWN_FLAGS) throw fail('EINVAL', `DEVICE_FEATURE: unknown flags 0x${((flags & ~KNOWN_FLAGS) >>> 0).toString(16)}`);
  const get = (flags & DEVICE_FEATURE_GET) !== 0;
  const set = (flags & DEVICE_FEATURE_SET) !== 0;
  const probe = (flags & DEVICE_FEATURE_PROBE) !== 0;
  if (get && set && !probe) throw fail('EINVAL', 'DEVICE_FEATURE: GET and SET together need PROBE');
  if (!get && !set && !probe) throw fail('EINVAL', 'DEVICE_FEATURE: none of GET, SET, PROBE');
}

function view(argsz: number, flags: number, data: Uint8Array): DeviceFeatureMessage {
  return {
    argsz,
    flags,
    feature: flags & DEVICE_FEATURE_MASK,
    get: (flags & DEVICE_FEATURE_GET) !== 0,
    set: (flags & DEVICE_FEATURE_SET) !== 0,
    probe: (flags & DEVICE_FEATURE_PROBE) !== 0,
    data,
  };
}

// ----------------------------------------------------------- request/reply

/** Encodes DEVICE_FEATURE for `a.feature` with GET/SET/PROBE and its data; EINVAL for none of the three, GET with SET without PROBE, or argsz below 8. */
export function encodeDeviceFeatureRequest(msgId: number, a: DeviceFeatureArgs, flags = 0): Buffer {
  const ff = featureFlags(a);
  checkFlags(ff);
  const data = a.data ?? new Uint8Array(0);
  const argsz = checkU32(a.argsz ?? DEVICE_FEATURE_SIZE + data.length, 'DEVICE_FEATURE argsz');
  if (argsz < DEVICE_FEATURE_SIZE) throw fail('EINVAL', `DEVICE_FEATURE: argsz ${argsz} is below ${DEVICE_FEATURE_SIZE}`);
  const b = newCommand(msgId, Command.DEVICE_FEATURE, DEVICE_FEATURE_SIZE + data.length, flags);
  writeU32(b, HEADER_SIZE, argsz);
  writeU32(b, HEADER_SIZE + 4, ff);
  b.set(data, HEADER_SIZE + DEVICE_FEATURE_SIZE);
  return b;
}

/**
 * Decodes the request head: at least 8 bytes, argsz at least 8 (and, for SET
 * and PROBE, at least the payload, which the reply repeats), known flag bits,
 * a valid GET/SET/PROBE combination, no descriptors (EINVAL). The data
 * is left to interpretDeviceFeatureRequest or the feature decoders below.
 */
export function decodeDeviceFeatureRequestPayload(p: Uint8Array, fds: readonly number[] = []): DeviceFeatureMessage {
  requireNoFds(fds, 'DEVICE_FEATURE');
  requireAtLeast(p, DEVICE_FEATURE_SIZE, 'DEVICE_FEATURE');
  const argsz = readU32(p, 0);
  if (argsz < DEVICE_FEATURE_SIZE) throw fail('EINVAL', `DEVICE_FEATURE: argsz ${argsz} is below ${DEVICE_FEATURE_SIZE}`);
  const flags = readU32(p, 4);
  checkFlags(flags);
  const v = view(argsz, flags, p.subarray(DEVICE_FEATURE_SIZE));
  if ((v.set || v.probe) && argsz < p.length) {
    // The reply repeats this payload, so argsz must leave room for it.
    throw fail('EINVAL', `DEVICE_FEATURE: argsz ${argsz} is smaller than the ${p.length}-byte payload the reply repeats`);
  }
  return v;
}

/** Decodes a DEVICE_FEATURE command's head (checks as decodeDeviceFeatureRequestPayload); EINVAL when malformed. */
export function decodeDeviceFeatureRequest(message: Uint8Array, fds: readonly number[] = []): DeviceFeatureMessage {
  return decodeDeviceFeatureRequestPayload(openCommand(message, Command.DEVICE_FEATURE).payload, fds);
}

/**
 * The reply to `req`. For SET and PROBE the request payload comes back, with
 * `data` replacing the request's data if given. For GET `data` is the
 * feature's data; if 8 + its length exceeds the request's argsz only the head
 * goes back, with argsz telling the size needed.
 */
export function encodeDeviceFeatureReply(msgId: number, req: DeviceFeatureMessage, data?: Uint8Array): Buffer {
  let argsz: number;
  let body: Uint8Array;
  if (req.get && !req.probe) {
    const d = data ?? new Uint8Array(0);
    argsz = checkU32(DEVICE_FEATURE_SIZE + d.length, 'DEVICE_FEATURE reply size');
    body = argsz <= req.argsz ? d : new Uint8Array(0);
  } else {
    argsz = req.argsz;
    body = data ?? req.data;
  }
  const b = newReply(msgId, Command.DEVICE_FEATURE, DEVICE_FEATURE_SIZE + body.length);
  writeU32(b, HEADER_SIZE, argsz);
  writeU32(b, HEADER_SIZE + 4, req.flags);
  b.set(body, HEADER_SIZE + DEVICE_FEATURE_SIZE);
  return b;
}

/**
 * Decodes a reply: the head as in the request; a GET reply is exactly argsz
 * long, or just the head when cut short (truncated).
 */
export function decodeDeviceFeatureReply(message: Uint8Array): DeviceFeatureReply {
  const p = openReply(message, Command.DEVICE_FEATURE).payload;
  requireAtLeast(p, DEVICE_FEATURE_SIZE, 'DEVICE_FEATURE reply');
  const argsz = readU32(p, 0);
  if (argsz < DEVICE_FEATURE_SIZE) throw fail('EINVAL', `DEVICE_FEATURE reply: argsz ${argsz} is below ${DEVICE_FEATURE_SIZE}`);
  const flags = readU32(p, 4);
  checkFlags(flags);
  const v = view(argsz, flags, p.subarray(DEVICE_FEATURE_SIZE));
  let truncated = false;
  if (v.get && !v.probe) {
    if (p.length < argsz) {
      requireLength(p, DEVICE_FEATURE_SIZE, 'cut-short DEVICE_FEATURE reply');
      truncated = true;
    } else {
      requireLength(p, argsz, 'DEVICE_FEATURE GET reply');
    }
  } else if (p.length > argsz) {
    throw fail('EINVAL', `DEVICE_FEATURE reply: ${p.length} bytes, more than its argsz ${argsz}`);
  }
  return { ...v, truncated };
}

// ---------------------------------------------------------- feature data

/** One IOVA range to track dirty pages in. */
export interface DmaLoggingRange {
  iova: bigint;
  length: bigint;
}

/** DMA_LOGGING_START data: tracking page size and ranges (none means all memory). */
export interface DmaLoggingControl {
  pageSize: bigint;
  ranges: DmaLoggingRange[];
}

/** The range and page size a DMA_LOGGING_REPORT asks about. */
export interface DmaLoggingReportRange {
  iova: bigint;
  length: bigint;
  pageSize: bigint;
}

/** MIGRATION GET reply data: the migration flags. */
export function encodeMigrationFeatureData(flags: U64): Uint8Array {
  const f = toBigInt(checkU64(flags, 'migration flags'));
  checkMigrationFlags(f);
  const b = new Uint8Array(8);
  writeU64(b, 0, f);
  return b;
}

function checkMigrationFlags(f: bigint): void {
  if (f & ~MIGRATION_FLAGS) throw fail('EINVAL', `migration flags 0x${f.toString(16)} has unknown bits`);
  if (!(f & MIGRATION_STOP_COPY)) throw fail('EINVAL', 'migration flags lack STOP_COPY, which every migratable device has');
}

/** Decodes MIGRATION GET data, the u64 migration flags; EINVAL unless 8 bytes with only known bits and STOP_COPY set. */
export function decodeMigrationFeatureData(data: Uint8Array): { flags: bigint } {
  requireLength(data, 8, 'VFIO_DEVICE_FEATURE_MIGRATION data');
  const flags = readU64(data, 0);
  checkMigrationFlags(flags);
  return { flags };
}

/** MIG_DEVICE_STATE data: the state and the (unused) data_fd, sent as -1. */
export function encodeMigStateData(state: number): Uint8Array {
  checkU32(state, 'device_state');
  if (state > DeviceState.PRE_COPY_P2P) throw fail('EINVAL', `device_state ${state} is not a migration state`);
  const b = new Uint8Array(MIG_STATE_DATA_SIZE);
  writeU32(b, 0, state);
  writeU32(b, 4, 0xffff_ffff);
  return b;
}

/**
 * Decodes MIG_DEVICE_STATE data. For a SET the state must be one a client may
 * ask for: not ERROR, and not the P2P states vfio-user does not use.
 */
export function decodeMigStateData(data: Uint8Array, op: 'get' | 'set'): { state: number } {
  requireLength(data, MIG_STATE_DATA_SIZE, 'VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE data');
  const state = readU32(data, 0);
  if (state > DeviceState.PRE_COPY_P2P) throw fail('EINVAL', `device_state ${state} is not a migration state`);
  if (op === 'set') {
    if (state === DeviceState.ERROR) throw fail('EINVAL', 'device_state ERROR cannot be requested');
    if (state === DeviceState.RUNNING_P2P || state === DeviceState.PRE_COPY_P2P) {
      throw fail('EINVAL', `device_state ${state} (P2P) is not used in vfio-user`);
    }
  }
  return { state };
}

function checkRange(iova: bigint, length: bigint, what: string): void {
  if (length === 0n) throw fail('EINVAL', `${what}: empty range at 0x${iova.toString(16)}`);
  if (overflowsU64(iova, length)) throw fail('EINVAL', `${what}: range 0x${iova.toString(16)}+0x${length.toString(16)} wraps past 2^64`);
}

/** Encodes DMA_LOGGING_START data; EINVAL for a page size that is not a power of two or a range that is empty, wraps or overlaps another. */
export function encodeDmaLoggingControl(c: { pageSize: U64; ranges: readonly { iova: U64; length: U64 }[] }): Uint8Array {
  const pageSize = toBigInt(checkU64(c.pageSize, 'page_size'));
  const ranges = c.ranges.map((r) => ({ iova: toBigInt(checkU64(r.iova, 'iova')), length: toBigInt(checkU64(r.length, 'length')) }));
  checkControl({ pageSize, ranges });
  const b = new Uint8Array(DMA_LOGGING_CONTROL_SIZE + DMA_LOGGING_RANGE_SIZE * ranges.length);
  writeU64(b, 0, pageSize);
  writeU32(b, 8, ranges.length);
  ranges.forEach((r, i) => {
    writeU64(b, 16 + 16 * i, r.iova);
    writeU64(b, 24 + 16 * i, r.length);
  });
  return b;
}

function checkControl(c: DmaLoggingControl): void {
  if (!isPowerOfTwo(c.pageSize)) throw fail('EINVAL', `DMA logging page_size ${c.pageSize} is not a power of two`);
  c.ranges.forEach((r, i) => {
    checkRange(r.iova, r.length, `DMA logging range ${i}`);
  });
  const sorted = [...c.ranges].sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1]!.iova + sorted[i - 1]!.length > sorted[i]!.iova) {
      throw fail('EINVAL', `DMA logging ranges overlap at 0x${sorted[i]!.iova.toString(16)}`);
    }
  }
}

/**
 * DMA_LOGGING_START data: 16 bytes then exactly num_ranges ranges; reserved
 * zero; page size a power of two; ranges non-empty, not wrapping, not
 * overlapping (num_ranges 0 means log everything). EINVAL otherwise.
 */
export function decodeDmaLoggingControl(data: Uint8Array): DmaLoggingControl {
  requireAtLeast(data, DMA_LOGGING_CONTROL_SIZE, 'DMA_LOGGING_START data');
  const pageSize = readU64(data, 0);
  const n = readU32(data, 8);
  requireZero(readU32(data, 12), 'DMA_LOGGING_START reserved');
  if (n > (data.length - DMA_LOGGING_CONTROL_SIZE) / DMA_LOGGING_RANGE_SIZE) {
    throw fail('EINVAL', `DMA_LOGGING_START: num_ranges ${n} but ${data.length - DMA_LOGGING_CONTROL_SIZE} bytes of ranges`);
  }
  requireLength(data, DMA_LOGGING_CONTROL_SIZE + DMA_LOGGING_RANGE_SIZE * n, `DMA_LOGGING_START with ${n} ranges`);
  const ranges: DmaLoggingRange[] = [];
  for (let i = 0; i < n; i++) ranges.push({ iova: readU64(data, 16 + 16 * i), length: readU64(data, 24 + 16 * i) });
  const c = { pageSize, ranges };
  checkControl(c);
  return c;
}

/** Bytes of report bitmap for `length` bytes at one bit per `pageSize`, in whole u64 words. */
export function dmaLoggingBitmapBytes(length: bigint, pageSize: bigint): bigint {
  const pages = (length + pageSize - 1n) / pageSize;
  return ((pages + 63n) / 64n) * 8n;
}

function checkReport(r: DmaLoggingReportRange): void {
  if (!isPowerOfTwo(r.pageSize)) throw fail('EINVAL', `DMA_LOGGING_REPORT page_size ${r.pageSize} is not a power of two`);
  checkRange(r.iova, r.length, 'DMA_LOGGING_REPORT');
}

/** Encodes DMA_LOGGING_REPORT request data; EINVAL for a page size that is not a power of two or an empty or wrapping range. */
export function encodeDmaLoggingReportRequest(r: { iova: U64; length: U64; pageSize: U64 }): Uint8Array {
  const rr = {
    iova: toBigInt(checkU64(r.iova, 'iova')),
    length: toBigInt(checkU64(r.length, 'length')),
    pageSize: toBigInt(checkU64(r.pageSize, 'page_size')),
  };
  checkReport(rr);
  const b = new Uint8Array(DMA_LOGGING_REPORT_SIZE);
  writeU64(b, 0, rr.iova);
  writeU64(b, 8, rr.length);
  writeU64(b, 16, rr.pageSize);
  return b;
}

/** DMA_LOGGING_REPORT request data: exactly 24 bytes, power-of-two page size, a non-empty non-wrapping range. */
export function decodeDmaLoggingReportRequest(data: Uint8Array): DmaLoggingReportRange {
  requireLength(data, DMA_LOGGING_REPORT_SIZE, 'DMA_LOGGING_REPORT data');
  const r = { iova: readU64(data, 0), length: readU64(data, 8), pageSize: readU64(data, 16) };
  checkReport(r);
  return r;
}

/** DMA_LOGGING_REPORT reply data: the request's 24 bytes then the bitmap (exactly its size). */
export function encodeDmaLoggingReportReply(r: DmaLoggingReportRange, bitmap: Uint8Array): Uint8Array {
  checkReport(r);
  const need = Number(dmaLoggingBitmapBytes(r.length, r.pageSize));
  if (bitmap.length !== need) throw fail('EINVAL', `DMA_LOGGING_REPORT bitmap of ${bitmap.length} bytes, range needs ${need}`);
  const b = new Uint8Array(DMA_LOGGING_REPORT_SIZE + need);
  writeU64(b, 0, r.iova);
  writeU64(b, 8, r.length);
  writeU64(b, 16, r.pageSize);
  b.set(bitmap, DMA_LOGGING_REPORT_SIZE);
  return b;
}

/** Decodes DMA_LOGGING_REPORT reply data: the range, then its dirty bitmap (one bit per page, whole u64 words); EINVAL for a bad range or a bitmap of the wrong size. */
export function decodeDmaLoggingReportReply(data: Uint8Array): DmaLoggingReportRange & { bitmap: Uint8Array } {
  requireAtLeast(data, DMA_LOGGING_REPORT_SIZE, 'DMA_LOGGING_REPORT reply data');
  const r = { iova: readU64(data, 0), length: readU64(data, 8), pageSize: readU64(data, 16) };
  checkReport(r);
  const need = dmaLoggingBitmapBytes(r.length, r.pageSize);
  if (BigInt(data.length - DMA_LOGGING_REPORT_SIZE) !== need) {
    throw fail('EINVAL', `DMA_LOGGING_REPORT reply: ${data.length - DMA_LOGGING_REPORT_SIZE} bytes of bitmap, range needs ${need}`);
  }
  return { ...r, bitmap: data.subarray(DMA_LOGGING_REPORT_SIZE) };
}

// -------------------------------------------------------- interpretation

/** What a DEVICE_FEATURE request asks for, as interpretDeviceFeatureRequest classifies it. */
export type FeatureRequest =
  | { kind: 'probe'; feature: number; get: boolean; set: boolean }
  | { kind: 'migration-get' }
  | { kind: 'mig-state-get' }
  | { kind: 'mig-state-set'; state: number }
  | { kind: 'dma-logging-start'; control: DmaLoggingControl }
  | { kind: 'dma-logging-stop' }
  | { kind: 'dma-logging-report'; range: DmaLoggingReportRange };

const OPS: Record<number, { get: boolean; set: boolean }> = {
  [Feature.MIGRATION]: { get: true, set: false },
  [Feature.MIG_DEVICE_STATE]: { get: true, set: true },
  [Feature.DMA_LOGGING_START]: { get: false, set: true },
  [Feature.DMA_LOGGING_STOP]: { get: false, set: true },
  [Feature.DMA_LOGGING_REPORT]: { get: true, set: false },
};

/**
 * What a decoded request asks for, with its data checked for that feature:
 * ENOTTY for a feature vfio-user does not define, EINVAL for an operation the
 * feature lacks or data of the wrong shape (requests whose feature has no
 * request data must carry none; PROBE data is ignored). Whether the device
 * supports the feature at all is the server's business.
 */
export function interpretDeviceFeatureRequest(req: DeviceFeatureMessage): FeatureRequest {
  const ops = OPS[req.feature];
  if (ops === undefined) throw fail('ENOTTY', `DEVICE_FEATURE: unknown feature ${req.feature}`);
  if ((req.get && !ops.get) || (req.set && !ops.set)) {
    throw fail('EINVAL', `DEVICE_FEATURE: feature ${req.feature} has no ${req.get ? 'GET' : 'SET'}`);
  }
  if (req.probe) return { kind: 'probe', feature: req.feature, get: req.get, set: req.set };
  switch (req.feature) {
    case Feature.MIGRATION:
      requireLength(req.data, 0, 'VFIO_DEVICE_FEATURE_MIGRATION request data');
      return { kind: 'migration-get' };
    case Feature.MIG_DEVICE_STATE:
      if (req.get) {
        requireLength(req.data, 0, 'VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE GET request data');
        return { kind: 'mig-state-get' };
      }
      return { kind: 'mig-state-set', state: decodeMigStateData(req.data, 'set').state };
    case Feature.DMA_LOGGING_START:
      return { kind: 'dma-logging-start', control: decodeDmaLoggingControl(req.data) };
    case Feature.DMA_LOGGING_STOP:
      requireLength(req.data, 0, 'DMA_LOGGING_STOP data');
      return { kind: 'dma-logging-stop' };
    default:
      return { kind: 'dma-logging-report', range: decodeDmaLoggingReportRequest(req.data) };
  }
}
