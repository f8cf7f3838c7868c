// VFIO_USER_VERSION: the handshake, and the session limits it settles.
//
// Payload (request and reply alike):
//   0  u16 major
//   2  u16 minor
//   4  optional version data: UTF-8 JSON, NUL-terminated, of the form
//      {"capabilities": {"max_msg_fds": n, "max_data_xfer_size": n,
//        "max_dma_maps": n, "pgsizes": n, "migration": {"pgsize": n,
//        "max_bitmap_size": n}, "twin_socket": {"supported": b, "fd_index": n},
//        "write_multiple": b}}
//
// Each capability describes the sender: max_msg_fds is how many descriptors
// the sender accepts in one message (default 1), max_data_xfer_size the most
// data it accepts in one data-transfer message (default 1 MiB). The server
// answers with the same major, a minor no higher than proposed, and only
// capabilities the client proposed; the client closes the connection on a
// reply it cannot accept. Unknown capabilities are ignored on receipt so newer
// peers keep working. `migration` belongs to drafts before 0.9.2 of the
// specification; QEMU and libvfio-user still send it, so it is parsed and
// negotiated (smallest page size, smallest bitmap limit) but never required.

import { ErrnoError, fail } from '../errors.js';
import { Command } from './commands.js';
import { DEFAULT_MAX_DATA_XFER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import { checkU16, readU16, requireAtLeast, requireNoFds, writeU16 } from './wire.js';

/** The protocol version vfio-ts speaks. */
export const PROTOCOL_MAJOR = 0;
/** The protocol minor version vfio-ts speaks. */
export const PROTOCOL_MINOR = 2;

/** The `migration` capability of drafts before 0.9.2: dirty bitmap page size and size limit. */
export interface MigrationCapability {
  /** Page size of dirty bitmaps. */
  pgsize?: number;
  /** Largest dirty bitmap in one message (default 256 MiB). */
  maxBitmapSize?: number;
}

/** The `twin_socket` capability: a second socket carrying the server's commands (DMA_READ/DMA_WRITE). */
export interface TwinSocketCapability {
  supported?: boolean;
  /** Reply only: index, in the reply's descriptors, of the server-to-client socket. */
  fdIndex?: number;
}

/** The capabilities object, camel-cased; absent members take the defaults below. */
export interface Capabilities {
  maxMsgFds?: number;
  maxDataXferSize?: number;
  maxDmaMaps?: number;
  pgsizes?: number;
  migration?: MigrationCapability;
  twinSocket?: TwinSocketCapability;
  writeMultiple?: boolean;
}

/** A VERSION payload: major and minor version and the sender's capabilities. */
export interface VersionPayload {
  major: number;
  minor: number;
  /**
   * The sender's capabilities; `{}` when it sent JSON without them, undefined
   * when it sent no version data at all (the defaults apply either way).
   */
  capabilities?: Capabilities;
}

/** Values the specification assumes for capabilities a peer does not state. */
export const CAPABILITY_DEFAULTS = Object.freeze({
  maxMsgFds: 1,
  maxDataXferSize: DEFAULT_MAX_DATA_XFER_SIZE,
  maxDmaMaps: 65535,
  pgsizes: 4096,
  migrationPgsize: 4096,
  maxBitmapSize: 256 * 1024 * 1024,
});

// ---------------------------------------------------------------- encoding

function capabilitiesJson(c: Capabilities): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (c.maxMsgFds !== undefined) o['max_msg_fds'] = c.maxMsgFds;
  if (c.maxDataXferSize !== undefined) o['max_data_xfer_size'] = c.maxDataXferSize;
  if (c.pgsizes !== undefined) o['pgsizes'] = c.pgsizes;
  if (c.maxDmaMaps !== undefined) o['max_dma_maps'] = c.maxDmaMaps;
  if (c.migration !== undefined) {
    const m: Record<string, unknown> = {};
    if (c.migration.pgsize !== undefined) m['pgsize'] = c.migration.pgsize;
    if (c.migration.maxBitmapSize !== undefined) m['max_bitmap_size'] = c.migration.maxBitmapSize;
    o['migration'] = m;
  }
  if (c.twinSocket !== undefined) {
    const t: Record<string, unknown> = {};
    if (c.twinSocket.supported !== undefined) t['supported'] = c.twinSocket.supported;
    if (c.twinSocket.fdIndex !== undefined) t['fd_index'] = c.twinSocket.fdIndex;
    o['twin_socket'] = t;
  }
  if (c.writeMultiple !== undefined) o['write_multiple'] = c.writeMultiple;
  return o;
}

/** The VERSION payload bytes: major, minor and (when capabilities are given) the JSON with its NUL. */
export function encodeVersionPayload(v: VersionPayload): Buffer {
  checkU16(v.major, 'major');
  checkU16(v.minor, 'minor');
  let json: Buffer | undefined;
  if (v.capabilities !== undefined) {
    // Validate what we are about to send by the same rules we apply on receipt.
    validateCapabilities(capabilitiesJson(v.capabilities), 'capabilities');
    json = Buffer.from(JSON.stringify({ capabilities: capabilitiesJson(v.capabilities) }) + '\0', 'utf8');
  }
  const b = Buffer.alloc(4 + (json?.length ?? 0));
  writeU16(b, 0, v.major);
  writeU16(b, 2, v.minor);
  if (json) b.set(json, 4);
  return b;
}

/** Encodes the client's VERSION command proposing `v`; throws EINVAL for a version that is not a u16 or a capability of the wrong type. */
export function encodeVersionRequest(msgId: number, v: VersionPayload, flags = 0): Buffer {
  const p = encodeVersionPayload(v);
  const b = newCommand(msgId, Command.VERSION, p.length, flags);
  b.set(p, 16);
  return b;
}

/** Encodes the server's VERSION reply carrying `v`; throws EINVAL for a version that is not a u16 or a capability of the wrong type. */
export function encodeVersionReply(msgId: number, v: VersionPayload): Buffer {
  const p = encodeVersionPayload(v);
  const b = newReply(msgId, Command.VERSION, p.length);
  b.set(p, 16);
  return b;
}

// ---------------------------------------------------------------- decoding

const utf8 = new TextDecoder('utf-8', { fatal: true });

function own(o: object, k: string): unknown {
  return Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function integer(o: Record<string, unknown>, key: string, path: string, min: number): number | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw fail('EINVAL', `${path}.${key} must be an integer >= ${min} below 2^53, got ${JSON.stringify(v)}`);
  }
  return v;
}

function boolean(o: Record<string, unknown>, key: string, path: string): boolean | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw fail('EINVAL', `${path}.${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function object(o: Record<string, unknown>, key: string, path: string): Record<string, unknown> | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (!isObject(v)) throw fail('EINVAL', `${path}.${key} must be an object, got ${JSON.stringify(v)}`);
  return v;
}

/** Type-checks a capabilities object in wire (snake_case) form and converts it. */
function validateCapabilities(c: Record<string, unknown>, path: string): Capabilities {
  const out: Capabilities = {};
  const maxMsgFds = integer(c, 'max_msg_fds', path, 0);
  if (maxMsgFds !== undefined) out.maxMsgFds = maxMsgFds;
  const maxDataXferSize = integer(c, 'max_data_xfer_size', path, 1);
  if (maxDataXferSize !== undefined) out.maxDataXferSize = maxDataXferSize;
  const maxDmaMaps = integer(c, 'max_dma_maps', path, 0);
  if (maxDmaMaps !== undefined) out.maxDmaMaps = maxDmaMaps;
  const pgsizes = integer(c, 'pgsizes', path, 1);
  if (pgsizes !== undefined) out.pgsizes = pgsizes;
  const mig = object(c, 'migration', path);
  if (mig !== undefined) {
    const m: MigrationCapability = {};
    const pgsize = integer(mig, 'pgsize', `${path}.migration`, 1);
    if (pgsize !== undefined) {
      if (!isPow2(pgsize)) throw fail('EINVAL', `${path}.migration.pgsize ${pgsize} is not a power of two`);
      m.pgsize = pgsize;
    }
    const maxBitmapSize = integer(mig, 'max_bitmap_size', `${path}.migration`, 1);
    if (maxBitmapSize !== undefined) m.maxBitmapSize = maxBitmapSize;
    out.migration = m;
  }
  const twin = object(c, 'twin_socket', path);
  if (twin !== undefined) {
    const t: TwinSocketCapability = {};
    const supported = boolean(twin, 'supported', `${path}.twin_socket`);
    if (supported !== undefined) t.supported = supported;
    const fdIndex = integer(twin, 'fd_index', `${path}.twin_socket`, 0);
    if (fdIndex !== undefined) t.fdIndex = fdIndex;
    out.twinSocket = t;
  }
  const wm = boolean(c, 'write_multiple', path);
  if (wm !== undefined) out.writeMultiple = wm;
  return out;
}

function isPow2(n: number): boolean {
  return n > 0 && Number.isSafeInteger(n) && (BigInt(n) & (BigInt(n) - 1n)) === 0n;
}

/**
 * Decodes a VERSION payload. The version data, when present, must be valid
 * UTF-8, end with its (single) NUL, parse as a JSON object, and give every known
 * capability the type the specification says; any failure is EINVAL.
 */
export function decodeVersionPayload(payload: Uint8Array): VersionPayload {
  requireAtLeast(payload, 4, 'VERSION');
  const v: VersionPayload = { major: readU16(payload, 0), minor: readU16(payload, 2) };
  if (payload.length === 4) return v;
  const data = payload.subarray(4);
  if (data[data.length - 1] !== 0) throw fail('EINVAL', 'VERSION: version data is not NUL-terminated');
  const nul = data.indexOf(0);
  if (nul !== data.length - 1) throw fail('EINVAL', `VERSION: NUL at byte ${nul} inside the version data`);
  let text: string;
  try {
    text = utf8.decode(data.subarray(0, data.length - 1));
  } catch {
    throw fail('EINVAL', 'VERSION: version data is not valid UTF-8');
  }
  let top: unknown;
  try {
    top = JSON.parse(text);
  } catch (e) {
    throw fail('EINVAL', `VERSION: version data is not JSON (${(e as Error).message})`);
  }
  if (!isObject(top)) throw fail('EINVAL', 'VERSION: version data is not a JSON object');
  const caps = object(top, 'capabilities', 'version data');
  v.capabilities = caps === undefined ? {} : validateCapabilities(caps, 'capabilities');
  return v;
}

/** Decodes a VERSION command; it carries no file descriptors. */
export function decodeVersionRequest(message: Uint8Array, fds: readonly number[] = []): VersionPayload {
  const { payload } = openCommand(message, Command.VERSION);
  requireNoFds(fds, 'VERSION request');
  return decodeVersionPayload(payload);
}

/** Decodes a VERSION reply (its descriptors, if any, are checked by acceptVersionReply). */
export function decodeVersionReply(message: Uint8Array): VersionPayload {
  return decodeVersionPayload(openReply(message, Command.VERSION).payload);
}

// ------------------------------------------------------------- negotiation

/** A side's capabilities with the specification's defaults filled in. */
export interface ResolvedCapabilities {
  maxMsgFds: number;
  maxDataXferSize: number;
  maxDmaMaps: number;
  pgsizes: number;
  /** Undefined when the side did not state migration support. */
  migration: { pgsize: number; maxBitmapSize: number } | undefined;
  twinSocket: boolean;
  writeMultiple: boolean;
}

/** Fills in the specification's defaults for whatever a side left out. */
export function resolveCapabilities(c: Capabilities | undefined): ResolvedCapabilities {
  return {
    maxMsgFds: c?.maxMsgFds ?? CAPABILITY_DEFAULTS.maxMsgFds,
    maxDataXferSize: c?.maxDataXferSize ?? CAPABILITY_DEFAULTS.maxDataXferSize,
    maxDmaMaps: c?.maxDmaMaps ?? CAPABILITY_DEFAULTS.maxDmaMaps,
    pgsizes: c?.pgsizes ?? CAPABILITY_DEFAULTS.pgsizes,
    migration:
      c?.migration === undefined
        ? undefined
        : {
            pgsize: c.migration.pgsize ?? CAPABILITY_DEFAULTS.migrationPgsize,
            maxBitmapSize: c.migration.maxBitmapSize ?? CAPABILITY_DEFAULTS.maxBitmapSize,
          },
    twinSocket: c?.twinSocket?.supported ?? false,
    writeMultiple: c?.writeMultiple ?? false,
  };
}

/** What one side of a connection has settled on after the handshake. */
export interface VersionSession {
  major: number;
  minor: number;
  /** Descriptors we may attach to one message (the peer's max_msg_fds). */
  maxSendFds: number;
  /** Descriptors we accept in one message (our max_msg_fds). */
  maxRecvFds: number;
  /** Largest count in a data transfer we send (the peer's max_data_xfer_size). */
  maxSendDataXfer: number;
  /** Largest count in a data transfer we accept (ours). */
  maxRecvDataXfer: number;
  /** DMA page sizes both sides support. */
  pgsizes: number;
  maxDmaMaps: number;
  migration: { pgsize: number; maxBitmapSize: number } | undefined;
  writeMultiple: boolean;
  /** Twin-socket mode is on; the client's socket is descriptor `twinSocketFdIndex` of the reply. */
  twinSocket: boolean;
  twinSocketFdIndex: number | undefined;
  local: ResolvedCapabilities;
  peer: ResolvedCapabilities;
}

/** What a side proposes (client) or supports (server). */
export interface VersionOffer {
  major: number;
  minor: number;
  capabilities: Capabilities;
}

function agreedMigration(a: ResolvedCapabilities['migration'], b: ResolvedCapabilities['migration']): ResolvedCapabilities['migration'] {
  if (a === undefined || b === undefined) return undefined;
  return { pgsize: Math.min(a.pgsize, b.pgsize), maxBitmapSize: Math.min(a.maxBitmapSize, b.maxBitmapSize) };
}

function andPgsizes(a: number, b: number): number {
  return Number(BigInt(a) & BigInt(b));
}

/**
 * The server's half: checks the client's proposal against what the server
 * supports and builds the reply. Throws ENOTSUP when the majors differ or no
 * DMA page size is common (the caller answers with that errno and closes).
 * `twinSocketFdIndex` is the index the server will give the client's end of a
 * fresh socket pair in the reply's descriptors; it is used only if the client
 * said it supports twin-socket mode.
 */
export function negotiateVersion(
  client: VersionPayload,
  server: VersionOffer,
  opts: { twinSocketFdIndex?: number } = {},
): { reply: VersionPayload; session: VersionSession } {
  if (client.major !== server.major) {
    throw fail('ENOTSUP', `client proposes major version ${client.major}, server speaks ${server.major}`);
  }
  const minor = Math.min(client.minor, server.minor);
  const proposed = client.capabilities ?? {};
  const peer = resolveCapabilities(client.capabilities);
  const local = resolveCapabilities(server.capabilities);
  const pgsizes = andPgsizes(peer.pgsizes, local.pgsizes);
  if (pgsizes === 0) {
    throw fail('ENOTSUP', `no common DMA page size: client 0x${peer.pgsizes.toString(16)}, server 0x${local.pgsizes.toString(16)}`);
  }
  const maxDmaMaps = Math.min(peer.maxDmaMaps, local.maxDmaMaps);
  const migration = agreedMigration(peer.migration, local.migration);
  const writeMultiple = peer.writeMultiple && local.writeMultiple;
  const twinSocket = peer.twinSocket && opts.twinSocketFdIndex !== undefined;

  // Only what the client proposed goes back (the reply is a subset).
  const caps: Capabilities = {};
  if (proposed.maxMsgFds !== undefined) caps.maxMsgFds = local.maxMsgFds;
  if (proposed.maxDataXferSize !== undefined) caps.maxDataXferSize = local.maxDataXferSize;
  if (proposed.pgsizes !== undefined) caps.pgsizes = pgsizes;
  if (proposed.maxDmaMaps !== undefined) caps.maxDmaMaps = maxDmaMaps;
  if (proposed.migration !== undefined && migration !== undefined) {
    caps.migration = { pgsize: migration.pgsize, maxBitmapSize: migration.maxBitmapSize };
  }
  if (proposed.twinSocket !== undefined) {
    caps.twinSocket = twinSocket ? { supported: true, fdIndex: opts.twinSocketFdIndex! } : { supported: false };
  }
  if (proposed.writeMultiple !== undefined) caps.writeMultiple = writeMultiple;

  return {
    reply: { major: server.major, minor, capabilities: caps },
    session: {
      major: server.major,
      minor,
      maxSendFds: peer.maxMsgFds,
      maxRecvFds: local.maxMsgFds,
      maxSendDataXfer: peer.maxDataXferSize,
      maxRecvDataXfer: local.maxDataXferSize,
      pgsizes,
      maxDmaMaps,
      migration,
      writeMultiple,
      twinSocket,
      twinSocketFdIndex: twinSocket ? opts.twinSocketFdIndex : undefined,
      local,
      peer,
    },
  };
}

/**
 * The client's half: checks the server's reply against what the client
 * proposed. ENOTSUP for another major; EINVAL for a higher minor, for
 * descriptors the reply should not carry, or for an inconsistent twin_socket
 * (supported without a valid fd_index, or offered though not proposed). The
 * client closes the connection on any of these.
 */
export function acceptVersionReply(offer: VersionOffer, reply: VersionPayload, replyFdCount = 0): VersionSession {
  if (reply.major !== offer.major) {
    throw fail('ENOTSUP', `server answers major version ${reply.major}, client proposed ${offer.major}`);
  }
  if (reply.minor > offer.minor) {
    throw fail('EINVAL', `server answers minor version ${reply.minor}, above the proposed ${offer.minor}`);
  }
  const local = resolveCapabilities(offer.capabilities);
  const rc = reply.capabilities ?? {};
  const peer = resolveCapabilities(rc);
  let twinSocket = false;
  let twinSocketFdIndex: number | undefined;
  if (rc.twinSocket?.supported === true) {
    if (!local.twinSocket) throw fail('EINVAL', 'server enabled twin-socket mode the client did not propose');
    const i = rc.twinSocket.fdIndex;
    if (i === undefined || i >= replyFdCount) {
      throw fail('EINVAL', `twin_socket.fd_index ${i} does not name one of the ${replyFdCount} descriptors of the reply`);
    }
    twinSocket = true;
    twinSocketFdIndex = i;
  } else if (replyFdCount !== 0) {
    throw fail('EINVAL', `VERSION reply carries ${replyFdCount} descriptors without twin-socket mode`);
  }
  // Unproposed capabilities in the reply are ignored rather than fatal:
  // libvfio-user always states max_msg_fds, max_data_xfer_size and migration.
  const pgsizes = andPgsizes(local.pgsizes, peer.pgsizes);
  if (pgsizes === 0) {
    throw new ErrnoError(
      'ENOTSUP',
      `no common DMA page size: client 0x${local.pgsizes.toString(16)}, server 0x${peer.pgsizes.toString(16)}`,
    );
  }
  const migration = offer.capabilities.migration !== undefined ? agreedMigration(local.migration, peer.migration) : undefined;
  return {
    major: reply.major,
    minor: reply.minor,
    maxSendFds: peer.maxMsgFds,
    maxRecvFds: local.maxMsgFds,
    maxSendDataXfer: peer.maxDataXferSize,
    maxRecvDataXfer: local.maxDataXferSize,
    pgsizes,
    maxDmaMaps: Math.min(local.maxDmaMaps, peer.maxDmaMaps),
    migration,
    writeMultiple: local.writeMultiple && rc.writeMultiple === true,
    twinSocket,
    twinSocketFdIndex,
    local,
    peer,
  };
}
