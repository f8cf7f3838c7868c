// Declare a device -> a config-space layout.
//
// A declaration names the IDs, class, interrupt pin, BARs, ROM and the
// standard and extended capabilities. The builder validates everything,
// places capabilities (standard ones in 0x40..0xff, extended ones in
// 0x100..0xfff, dword aligned, never overlapping; an explicit `offset` is
// honoured, others go first-fit in declaration order), links the chains in
// declaration order (the extended chain starts at 0x100, so the capability
// placed there comes first), and produces the power-on bytes plus the
// hardware write rules of the default in-memory backing. Impossible layouts
// throw a LayoutError (an ErrnoError with a stable `reason`).

import { validateBars, validateRom, barFlags, barOffset, type BarDecl, type RomDecl } from './bars.js';
import { encodeAer, type AerDecl } from './caps/aer.js';
import { encodeAf, type AfDecl } from './caps/af.js';
import { encodeDsn, type DsnDecl } from './caps/dsn.js';
import type { CapImage } from './caps/image.js';
import { encodeMsi, type MsiDecl } from './caps/msi.js';
import { encodeMsix, validateMsix, type MsixDecl } from './caps/msix.js';
import { encodePcie, type PcieDecl } from './caps/pcie.js';
import { encodePm, type PmDecl } from './caps/pm.js';
import { encodeVendor, type VendorDecl } from './caps/vendor.js';
import { ConfigSpace, type ConfigSpaceOptions } from './config-space.js';
import { layoutError } from './layout-error.js';
import type { ConfigSize, Layout, UnassignedPolicy } from './layout.js';
import { roundUp4, setLe } from './le.js';
import type { RegionSpec } from './region.js';
import {
  PCI_CACHE_LINE_SIZE,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_DEVICE_ID,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
  PCI_STD_NUM_BARS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from './regs.js';

/** A standard capability the builder can place (in 0x40..0xff). */
export type CapabilityDecl = PmDecl | MsiDecl | MsixDecl | PcieDecl | AfDecl | VendorDecl;
/** An extended capability the builder can place (in 0x100..0xfff). */
export type ExtendedCapabilityDecl = AerDecl | DsnDecl;

/** Class Code by parts: base class, sub-class and programming interface (default 0). */
export interface ClassCode {
  base: number;
  sub: number;
  progIf?: number;
}

/** A device's config-space declaration: IDs, class, interrupt pin, BARs, ROM and capabilities; {@link buildLayout} lays it out. */
export interface DeviceDecl {
  vendorId: number;
  deviceId: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  revision?: number;
  /** 24-bit class code (0x010802) or its parts. */
  classCode: number | ClassCode;
  /** 0 = no INTx, 1..4 = INTA..INTD (default 1). */
  interruptPin?: number;
  /** Power-on interrupt line (default 0). */
  interruptLine?: number;
  /** BARs by slot (array position, or each one's `index`). */
  bars?: readonly (BarDecl | undefined | null)[];
  rom?: RomDecl;
  capabilities?: readonly CapabilityDecl[];
  extendedCapabilities?: readonly ExtendedCapabilityDecl[];
  /** Default: 4096 when there is a PCIe capability or an extended one, else 256. */
  configSize?: ConfigSize;
  /** Bytes outside every capability (default 'zero'). */
  unassigned?: UnassignedPolicy;
}

const STD_CAP_START = PCI_STD_HEADER_SIZEOF;
const EXT_CAP_START = PCI_CFG_SPACE_SIZE;

const SINGLE_STD = new Set(['pm', 'msi', 'msix', 'pcie', 'af']);
const SINGLE_EXT = new Set(['aer', 'dsn']);

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw layoutError('bad-value', `${name} ${String(v)} is outside ${min}..${max}`);
  }
  return v;
}

function classCodeOf(c: number | ClassCode): number {
  if (typeof c === 'number') return checkInt('classCode', c, 0, 0xffffff);
  if (!c || typeof c !== 'object') throw layoutError('bad-value', 'classCode must be a number or {base, sub, progIf}');
  const base = checkInt('classCode.base', c.base, 0, 0xff);
  const sub = checkInt('classCode.sub', c.sub, 0, 0xff);
  const prog = checkInt('classCode.progIf', c.progIf ?? 0, 0, 0xff);
  return (base << 16) | (sub << 8) | prog;
}

interface Placed {
  img: CapImage;
  offset: number;
  reserve: number;
}

/** First-fit placement honouring explicit offsets; returns images with offsets in input order. */
function place(items: { img: CapImage; offset: number | undefined }[], start: number, end: number, what: string): Placed[] {
  const placed: (Placed | undefined)[] = new Array(items.length).fill(undefined);
  const used: { from: number; to: number; i: number }[] = [];
  const overlapWith = (from: number, to: number): number => {
    const u = used.find((x) => from < x.to && x.from < to);
    return u ? u.i : -1;
  };
  items.forEach((it, i) => {
    if (it.offset === undefined) return;
    const off = it.offset;
    const reserve = roundUp4(it.img.bytes.length);
    if (!Number.isInteger(off)) throw layoutError('bad-value', `${what} offset ${String(off)} is not an integer`);
    if (off % 4) throw layoutError('misaligned', `${what} at 0x${off.toString(16)} is not dword aligned`);
    if (off < start || off + reserve > end) {
      throw layoutError(
        'out-of-range',
        `${what} of ${it.img.bytes.length} bytes at 0x${off.toString(16)} is outside 0x${start.toString(16)}..0x${(end - 1).toString(16)}`,
      );
    }
    const o = overlapWith(off, off + reserve);
    if (o >= 0) throw layoutError('overlap', `${what} at 0x${off.toString(16)} overlaps the one at 0x${placed[o]!.offset.toString(16)}`);
    used.push({ from: off, to: off + reserve, i });
    placed[i] = { img: it.img, offset: off, reserve };
  });
  items.forEach((it, i) => {
    if (it.offset !== undefined) return;
    const reserve = roundUp4(it.img.bytes.length);
    for (let off = start; off + reserve <= end; off += 4) {
      if (overlapWith(off, off + reserve) < 0) {
        used.push({ from: off, to: off + reserve, i });
        placed[i] = { img: it.img, offset: off, reserve };
        return;
      }
    }
    throw layoutError('no-room', `no room left for a ${reserve}-byte ${what} in 0x${start.toString(16)}..0x${(end - 1).toString(16)}`);
  });
  return placed as Placed[];
}

function encodeStd(d: CapabilityDecl): CapImage {
  switch (d.id) {
    case 'pm':
      return encodePm(d);
    case 'msi':
      return encodeMsi(d);
    case 'msix':
      return encodeMsix(d);
    case 'pcie':
      return encodePcie(d);
    case 'af':
      return encodeAf(d);
    case 'vendor':
      return encodeVendor(d);
    default:
      throw layoutError('bad-value', `unknown capability ${String((d as { id?: unknown }).id)}`);
  }
}

function encodeExt(d: ExtendedCapabilityDecl): CapImage {
  switch (d.id) {
    case 'aer':
      return encodeAer(d);
    case 'dsn':
      return encodeDsn(d);
    default:
      throw layoutError('bad-value', `unknown extended capability ${String((d as { id?: unknown }).id)}`);
  }
}

function checkSingles(list: readonly { id: string }[], single: Set<string>, what: string): void {
  const seen = new Set<string>();
  for (const c of list) {
    if (single.has(c.id) && seen.has(c.id)) throw layoutError('duplicate', `${what} '${c.id}' is declared twice`);
    seen.add(c.id);
  }
}

/** Validate a declaration and lay it out. */
export function buildLayout(decl: DeviceDecl): Layout {
  if (!decl || typeof decl !== 'object') throw layoutError('bad-value', 'a device declaration is an object');
  const vendorId = checkInt('vendorId', decl.vendorId, 0, 0xfffe);
  const deviceId = checkInt('deviceId', decl.deviceId, 0, 0xffff);
  const subVendor = checkInt('subsystemVendorId', decl.subsystemVendorId ?? 0, 0, 0xffff);
  const subId = checkInt('subsystemId', decl.subsystemId ?? 0, 0, 0xffff);
  const revision = checkInt('revision', decl.revision ?? 0, 0, 0xff);
  const pin = checkInt('interruptPin', decl.interruptPin ?? 1, 0, 4);
  const line = checkInt('interruptLine', decl.interruptLine ?? 0, 0, 0xff);
  const classCode = classCodeOf(decl.classCode);
  const caps = decl.capabilities ?? [];
  const ecaps = decl.extendedCapabilities ?? [];
  checkSingles(caps, SINGLE_STD, 'capability');
  checkSingles(ecaps, SINGLE_EXT, 'extended capability');
  const hasPcie = caps.some((c) => c.id === 'pcie');
  const size: ConfigSize = decl.configSize ?? (hasPcie || ecaps.length ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE);
  if (size !== PCI_CFG_SPACE_SIZE && size !== PCI_CFG_SPACE_EXP_SIZE)
    throw layoutError('bad-value', `configSize ${String(size)} is not 256 or 4096`);
  if (ecaps.length && size !== PCI_CFG_SPACE_EXP_SIZE) {
    throw layoutError('ext-on-conventional', 'extended capabilities need a 4096-byte (PCI Express) config space');
  }
  const unassigned = decl.unassigned ?? 'zero';
  if (unassigned !== 'zero' && unassigned !== 'raw') throw layoutError('bad-value', `unassigned policy ${String(unassigned)}`);

  const bars = validateBars(decl.bars ?? []);
  const rom = validateRom(decl.rom);
  for (const c of caps) if (c.id === 'msix') validateMsix(c, bars);

  const hw = new Uint8Array(size);
  const writable = new Uint8Array(size);
  const w1c = new Uint8Array(size);
  const regions: RegionSpec[] = [{ kind: 'header', id: 0, start: 0, length: PCI_STD_HEADER_SIZEOF }];

  // Header.
  setLe(hw, PCI_VENDOR_ID, 2, vendorId);
  setLe(hw, PCI_DEVICE_ID, 2, deviceId);
  setLe(hw, PCI_REVISION_ID, 1, revision);
  setLe(hw, PCI_CLASS_PROG, 3, classCode);
  setLe(hw, PCI_SUBSYSTEM_VENDOR_ID, 2, subVendor);
  setLe(hw, PCI_SUBSYSTEM_ID, 2, subId);
  setLe(hw, PCI_INTERRUPT_PIN, 1, pin);
  setLe(hw, PCI_INTERRUPT_LINE, 1, line);
  for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
    const b = bars[i];
    if (b) setLe(hw, barOffset(i), 4, barFlags(b));
  }
  // Hardware command bits that stick; the rest of a PCIe command register is hardwired 0.
  setLe(
    writable,
    PCI_COMMAND,
    2,
    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE,
  );
  writable[PCI_CACHE_LINE_SIZE] = 0xff;
  if (!hasPcie) writable[PCI_LATENCY_TIMER] = 0xff;

  // Standard capabilities.
  const std = place(
    caps.map((c) => ({ img: encodeStd(c), offset: c.offset })),
    STD_CAP_START,
    PCI_CFG_SPACE_SIZE,
    'capability',
  );
  std.forEach((p, i) => {
    hw.set(p.img.bytes, p.offset);
    if (p.img.writable) writable.set(p.img.writable, p.offset);
    if (p.img.w1c) w1c.set(p.img.w1c, p.offset);
    hw[p.offset + PCI_CAP_LIST_ID] = p.img.id;
    hw[p.offset + PCI_CAP_LIST_NEXT] = std[i + 1]?.offset ?? 0;
    const r: RegionSpec = { kind: 'cap', id: p.img.id, start: p.offset, length: p.img.bytes.length };
    if (p.img.userWrite) r.writeMask = p.img.userWrite;
    regions.push(r);
  });
  if (std.length) {
    hw[PCI_CAPABILITY_LIST] = std[0]!.offset;
    setLe(hw, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
  }

  // Extended capabilities: the one at 0x100 heads the chain.
  if (ecaps.length) {
    const ext = place(
      ecaps.map((c) => ({ img: encodeExt(c), offset: c.offset })),
      EXT_CAP_START,
      size,
      'extended capability',
    );
    const headIdx = ext.findIndex((p) => p.offset === EXT_CAP_START);
    if (headIdx < 0) throw layoutError('ext-head', 'no extended capability at 0x100 to start the chain');
    const chain = [ext[headIdx]!, ...ext.filter((_, i) => i !== headIdx)];
    chain.forEach((p, i) => {
      hw.set(p.img.bytes, p.offset);
      if (p.img.writable) writable.set(p.img.writable, p.offset);
      if (p.img.w1c) w1c.set(p.img.w1c, p.offset);
      const next = chain[i + 1]?.offset ?? 0;
      setLe(hw, p.offset, 4, (p.img.id | ((p.img.version ?? 1) << 16) | (next << 20)) >>> 0);
      regions.push({ kind: 'ecap', id: p.img.id, start: p.offset, length: p.img.bytes.length });
    });
  }

  if (unassigned === 'raw') {
    const covered = new Uint8Array(size);
    for (const r of regions) covered.fill(1, r.start, r.start + r.length);
    for (let i = 0; i < size; i++) if (!covered[i]) writable[i] = 0xff;
  }

  return {
    size,
    hardware: hw,
    shadow: Uint8Array.from(hw),
    writable,
    w1c,
    regions,
    bars,
    romSize: rom?.size,
    unassigned,
  };
}

/** Declare a device and get its config-space engine. */
export function createConfigSpace(decl: DeviceDecl, options: ConfigSpaceOptions = {}): ConfigSpace {
  return new ConfigSpace(buildLayout(decl), options);
}
