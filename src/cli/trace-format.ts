// The trace stream of `vfio-ts serve` (one JSON object per line on
// `<socket>.trace`) and its human rendering for `vfio-ts trace`. Pure: no I/O.
//
// Config-space offsets are named from the standard type-0 header layout and
// the device's capability list (sent by serve in the 'hello' line, or walked
// by the client from config bytes): "COMMAND", "MSI.CONTROL", "PM.PMCSR",
// "PCIe.DEVCTL", "AER.UNCOR_STATUS"...

import { hex } from '../util/format.js';

/** A capability as the trace stream describes it. */
export interface TraceCapability {
  id: number;
  extended: boolean;
  offset: number;
  length: number;
  /** Long name ("Message Signalled Interrupts"...), informational. */
  name?: string;
}

export interface TraceHello {
  type: 'hello';
  version: 1;
  time: number;
  socket: string;
  model: string;
  device: { vendorId: number; deviceId: number; classCode: number };
  capabilities: TraceCapability[];
}

export interface TraceClient {
  type: 'client';
  time: number;
  event: string;
  client?: number;
  pid: number;
  uid: number;
  gid: number;
  reason?: string;
}

interface Common {
  time: number;
  client: number;
  msgId: number;
  /** The errno name of an error reply ("EINVAL"). */
  errno?: string;
}

/** A REGION_READ/WRITE (or one write of a REGION_WRITE_MULTI). */
export interface TraceAccess extends Common {
  type: 'config' | 'region';
  op: 'read' | 'write';
  region: number;
  /** "config", "BAR0".."BAR5", "ROM", "VGA", "region N". */
  regionName: string;
  offset: number;
  size: number;
  /** Little-endian value as hex ("0x0006"), for accesses of 1..8 bytes that carried data. */
  value?: string;
  /** The first bytes as hex, for larger accesses. */
  data?: string;
}

export interface TraceDmaMap extends Common {
  type: 'dma_map';
  iova: string;
  size: string;
  offset: string;
  readable: boolean;
  writable: boolean;
  fd: boolean;
}

export interface TraceDmaUnmap extends Common {
  type: 'dma_unmap';
  iova: string;
  size: string;
  all: boolean;
}

export interface TraceSetIrqs extends Common {
  type: 'set_irqs';
  index: number;
  irq: string;
  action: string;
  data: string;
  start: number;
  count: number;
  eventfds: number;
}

/** DMA_READ / DMA_WRITE: the device (server) reaching into the client's memory. */
export interface TraceDmaRw extends Common {
  type: 'dma_read' | 'dma_write';
  iova: string;
  size: number;
}

export interface TraceReset extends Common {
  type: 'reset';
}

/** Any other command (VERSION, DEVICE_GET_INFO...), or one that could not be decoded. */
export interface TraceCommand extends Common {
  type: 'command';
  name: string;
  detail?: string;
}

export type TraceEvent =
  | TraceHello
  | TraceClient
  | TraceAccess
  | TraceDmaMap
  | TraceDmaUnmap
  | TraceSetIrqs
  | TraceDmaRw
  | TraceReset
  | TraceCommand;

export const REGION_NAMES = ['BAR0', 'BAR1', 'BAR2', 'BAR3', 'BAR4', 'BAR5', 'ROM', 'config', 'VGA'];
export const IRQ_NAMES = ['INTx', 'MSI', 'MSI-X', 'ERR', 'REQ'];

export function regionName(i: number): string {
  return REGION_NAMES[i] ?? `region ${i}`;
}

// ------------------------------------------------------------ register names

/** A named register of config space. */
export interface ConfigRegister {
  offset: number;
  size: 1 | 2 | 4;
  name: string;
  /** Short name of the capability it belongs to (absent in the header). */
  cap?: string;
  capId?: number;
  extended?: boolean;
}

type RegTable = [rel: number, size: 1 | 2 | 4, name: string][];

const HEADER: RegTable = [
  [0x00, 2, 'VENDOR_ID'],
  [0x02, 2, 'DEVICE_ID'],
  [0x04, 2, 'COMMAND'],
  [0x06, 2, 'STATUS'],
  [0x08, 1, 'REVISION_ID'],
  [0x09, 1, 'PROG_IF'],
  [0x0a, 2, 'CLASS'],
  [0x0c, 1, 'CACHE_LINE_SIZE'],
  [0x0d, 1, 'LATENCY_TIMER'],
  [0x0e, 1, 'HEADER_TYPE'],
  [0x0f, 1, 'BIST'],
  [0x10, 4, 'BAR0'],
  [0x14, 4, 'BAR1'],
  [0x18, 4, 'BAR2'],
  [0x1c, 4, 'BAR3'],
  [0x20, 4, 'BAR4'],
  [0x24, 4, 'BAR5'],
  [0x28, 4, 'CARDBUS_CIS'],
  [0x2c, 2, 'SUBSYSTEM_VENDOR_ID'],
  [0x2e, 2, 'SUBSYSTEM_ID'],
  [0x30, 4, 'ROM_ADDRESS'],
  [0x34, 1, 'CAP_PTR'],
  [0x3c, 1, 'INTERRUPT_LINE'],
  [0x3d, 1, 'INTERRUPT_PIN'],
  [0x3e, 1, 'MIN_GNT'],
  [0x3f, 1, 'MAX_LAT'],
];

const STD_SHORT: Record<number, string> = {
  0x01: 'PM',
  0x03: 'VPD',
  0x05: 'MSI',
  0x07: 'PCI-X',
  0x09: 'VNDR',
  0x10: 'PCIe',
  0x11: 'MSI-X',
  0x12: 'SATA',
  0x13: 'AF',
};
const EXT_SHORT: Record<number, string> = {
  0x01: 'AER',
  0x02: 'VC',
  0x03: 'DSN',
  0x04: 'PWR',
  0x0b: 'VSEC',
  0x0d: 'ACS',
  0x0e: 'ARI',
  0x0f: 'ATS',
  0x10: 'SR-IOV',
  0x13: 'PRI',
  0x15: 'REBAR',
  0x17: 'TPH',
  0x18: 'LTR',
  0x23: 'DVSEC',
};

export function capShortName(id: number, extended: boolean): string {
  return (extended ? EXT_SHORT : STD_SHORT)[id] ?? `${extended ? 'ECAP' : 'CAP'}_${hex(id, 2)}`;
}

function msiTable(length: number): RegTable {
  const is64 = length === 14 || length === 24;
  const mask = length >= 20;
  const t: RegTable = [
    [2, 2, 'CONTROL'],
    [4, 4, 'ADDRESS_LO'],
  ];
  if (is64) t.push([8, 4, 'ADDRESS_HI']);
  const data = is64 ? 0x0c : 0x08;
  t.push([data, 2, 'DATA']);
  if (mask) t.push([data + 4, 4, 'MASK'], [data + 8, 4, 'PENDING']);
  return t;
}

const PCIE: RegTable = [
  [0x02, 2, 'FLAGS'],
  [0x04, 4, 'DEVCAP'],
  [0x08, 2, 'DEVCTL'],
  [0x0a, 2, 'DEVSTA'],
  [0x0c, 4, 'LNKCAP'],
  [0x10, 2, 'LNKCTL'],
  [0x12, 2, 'LNKSTA'],
  [0x14, 4, 'SLTCAP'],
  [0x18, 2, 'SLTCTL'],
  [0x1a, 2, 'SLTSTA'],
  [0x1c, 2, 'RTCTL'],
  [0x1e, 2, 'RTCAP'],
  [0x20, 4, 'RTSTA'],
  [0x24, 4, 'DEVCAP2'],
  [0x28, 2, 'DEVCTL2'],
  [0x2a, 2, 'DEVSTA2'],
  [0x2c, 4, 'LNKCAP2'],
  [0x30, 2, 'LNKCTL2'],
  [0x32, 2, 'LNKSTA2'],
  [0x34, 4, 'SLTCAP2'],
  [0x38, 2, 'SLTCTL2'],
  [0x3a, 2, 'SLTSTA2'],
];

const AER: RegTable = [
  [0x04, 4, 'UNCOR_STATUS'],
  [0x08, 4, 'UNCOR_MASK'],
  [0x0c, 4, 'UNCOR_SEVER'],
  [0x10, 4, 'COR_STATUS'],
  [0x14, 4, 'COR_MASK'],
  [0x18, 4, 'CAP'],
  [0x1c, 4, 'HEADER_LOG0'],
  [0x20, 4, 'HEADER_LOG1'],
  [0x24, 4, 'HEADER_LOG2'],
  [0x28, 4, 'HEADER_LOG3'],
  [0x2c, 4, 'ROOT_COMMAND'],
  [0x30, 4, 'ROOT_STATUS'],
  [0x34, 4, 'ERROR_SOURCE'],
];

function capTable(c: TraceCapability): RegTable {
  if (c.extended) {
    const t: RegTable = [[0, 4, 'HEADER']];
    if (c.id === 0x01) return t.concat(AER.filter(([rel, size]) => rel + size <= c.length));
    if (c.id === 0x03)
      return t.concat([
        [4, 4, 'SERIAL_LO'],
        [8, 4, 'SERIAL_HI'],
      ]);
    return t;
  }
  const t: RegTable = [
    [0, 1, 'ID'],
    [1, 1, 'NEXT'],
  ];
  switch (c.id) {
    case 0x01:
      return t.concat([
        [2, 2, 'PMC'],
        [4, 2, 'PMCSR'],
        [6, 1, 'PMCSR_BSE'],
        [7, 1, 'DATA'],
      ]);
    case 0x05:
      return t.concat(msiTable(c.length));
    case 0x11:
      return t.concat([
        [2, 2, 'CONTROL'],
        [4, 4, 'TABLE'],
        [8, 4, 'PBA'],
      ]);
    case 0x10:
      return t.concat(PCIE.filter(([rel, size]) => rel + size <= c.length));
    case 0x13:
      return t.concat([
        [2, 1, 'LENGTH'],
        [3, 1, 'CAP'],
        [4, 1, 'CTRL'],
        [5, 1, 'STATUS'],
      ]);
    case 0x09:
      return t.concat([[2, 1, 'LENGTH']]);
    default:
      return t;
  }
}

/** Every named register of the header and of the capabilities, in offset order. */
export function configRegisters(caps: readonly TraceCapability[]): ConfigRegister[] {
  const out: ConfigRegister[] = HEADER.map(([offset, size, name]) => ({ offset, size, name }));
  for (const c of caps) {
    const cap = capShortName(c.id, c.extended);
    for (const [rel, size, name] of capTable(c)) {
      out.push({ offset: c.offset + rel, size, name: `${cap}.${name}`, cap, capId: c.id, extended: c.extended });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/**
 * The name of the config register(s) an access of `size` bytes at `offset`
 * touches: "COMMAND", "COMMAND/STATUS", "MSI.CONTROL", "MSI+0x0e" (inside a
 * capability, no named register), "0x0f8" (nowhere known).
 */
export function configRegisterName(offset: number, size: number, caps: readonly TraceCapability[]): string {
  const regs = configRegisters(caps).filter((r) => r.offset < offset + size && offset < r.offset + r.size);
  if (regs.length > 0) {
    const first = regs[0]!;
    if (size > 8) return first.offset === offset ? `${first.name}..` : `${first.name}+${offset - first.offset}..`;
    const names = regs.map((r) => (r.offset === first.offset || r.cap !== first.cap || !r.cap ? r.name : r.name.slice(r.cap.length + 1)));
    const base = names.join('/');
    return first.offset === offset ? base : `${first.name}+${offset - first.offset}`;
  }
  const cap = caps.find((c) => offset >= c.offset && offset < c.offset + Math.max(c.length, 1));
  if (cap) return `${capShortName(cap.id, cap.extended)}+${hex(offset - cap.offset, 2)}`;
  if (offset < 0x40) return 'reserved';
  return hex(offset, 3);
}

// ------------------------------------------------------------ value decoding

const COMMAND_BITS: [number, string][] = [
  [0x1, 'IO'],
  [0x2, 'MEMORY'],
  [0x4, 'MASTER'],
  [0x8, 'SPECIAL'],
  [0x10, 'MWI'],
  [0x20, 'VGA_SNOOP'],
  [0x40, 'PARITY'],
  [0x100, 'SERR'],
  [0x200, 'FAST_B2B'],
  [0x400, 'INTX_DISABLE'],
];
const STATUS_BITS: [number, string][] = [
  [0x8, 'INTERRUPT'],
  [0x10, 'CAP_LIST'],
  [0x20, '66MHZ'],
  [0x80, 'FAST_B2B'],
  [0x100, 'MASTER_PARITY'],
  [0x800, 'SIG_TARGET_ABORT'],
  [0x1000, 'REC_TARGET_ABORT'],
  [0x2000, 'REC_MASTER_ABORT'],
  [0x4000, 'SIG_SYSTEM_ERROR'],
  [0x8000, 'DETECTED_PARITY'],
];
const DEVCTL_BITS: [number, string][] = [
  [0x1, 'CERE'],
  [0x2, 'NFERE'],
  [0x4, 'FERE'],
  [0x8, 'URRE'],
  [0x10, 'RELAX_EN'],
  [0x100, 'EXT_TAG'],
  [0x200, 'PHANTOM'],
  [0x400, 'AUX_PME'],
  [0x800, 'NOSNOOP_EN'],
  [0x8000, 'BCR_FLR'],
];

function bits(value: number, table: [number, string][]): string {
  const on = table.filter(([b]) => value & b).map(([, n]) => n);
  return on.length ? on.join(' ') : 'none';
}

/** A short meaning of a value written to / read from a named register (or ''). */
export function describeRegisterValue(name: string, value: number): string {
  switch (name) {
    case 'COMMAND':
      return bits(value & 0xffff, COMMAND_BITS);
    case 'STATUS':
      return bits(value & 0xffff, STATUS_BITS);
    case 'MSI.CONTROL': {
      const enabled = 1 << ((value >> 4) & 7);
      const capable = 1 << ((value >> 1) & 7);
      return `${value & 1 ? 'ENABLE' : 'disabled'}, ${enabled}/${capable} vectors${value & 0x80 ? ', 64-bit' : ''}${value & 0x100 ? ', maskable' : ''}`;
    }
    case 'MSI-X.CONTROL':
      return `${value & 0x8000 ? 'ENABLE' : 'disabled'}${value & 0x4000 ? ', MASKALL' : ''}, ${(value & 0x7ff) + 1} vectors`;
    case 'PM.PMCSR':
      return `D${value & 3}${value & 0x100 ? ', PME_ENABLE' : ''}${value & 0x8000 ? ', PME_STATUS' : ''}`;
    case 'PCIe.DEVCTL':
      return `${bits(value & 0xffff, DEVCTL_BITS)}, MPS ${128 << ((value >> 5) & 7)}, MRRS ${128 << ((value >> 12) & 7)}`;
    case 'AF.CTRL':
      return value & 1 ? 'INITIATE_FLR' : 'none';
    case 'ROM_ADDRESS':
      return value & 1 ? 'enabled' : 'disabled';
    default:
      return '';
  }
}

// ------------------------------------------------------------ rendering

function time(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function result(e: { errno?: string }): string {
  return e.errno ? ` -> ${e.errno}` : '';
}

/** One event as a line for people (without a trailing newline). `caps` names config registers. */
export function formatTraceEvent(e: TraceEvent, caps: readonly TraceCapability[] = []): string {
  const prefix = `${time(e.time)} ${'client' in e && e.client !== undefined ? `#${e.client} ` : ''}`;
  switch (e.type) {
    case 'hello': {
      const list = e.capabilities.map((c) => `${capShortName(c.id, c.extended)}@${hex(c.offset, 2)}`).join(' ');
      return `${time(e.time)} tracing ${e.model} ${hex(e.device.vendorId, 4).slice(2)}:${hex(e.device.deviceId, 4).slice(2)} on ${e.socket}; capabilities: ${list || 'none'}`;
    }
    case 'client':
      return `${prefix}client ${e.event} (pid ${e.pid}, uid ${e.uid})${e.reason ? `: ${e.reason}` : ''}`;
    case 'config': {
      const name = configRegisterName(e.offset, e.size, caps);
      let s = `${prefix}config ${e.op} ${hex(e.offset, 2)} ${name}`;
      if (e.value !== undefined) {
        const v = parseInt(e.value, 16);
        const meaning = e.size <= 4 ? describeRegisterValue(name.split('/')[0]!, e.size > 2 && name.includes('/') ? v & 0xffff : v) : '';
        s += ` = ${e.value}${meaning ? ` (${meaning})` : ''}`;
      } else {
        s += ` +${e.size}${e.data ? ` = ${e.data}${e.size > e.data.length / 2 ? '...' : ''}` : ''}`;
      }
      return s + result(e);
    }
    case 'region': {
      let s = `${prefix}${e.regionName} ${e.op} ${hex(e.offset, 2)} +${e.size}`;
      if (e.value !== undefined) s += ` = ${e.value}`;
      else if (e.data) s += ` = ${e.data}${e.size > e.data.length / 2 ? '...' : ''}`;
      return s + result(e);
    }
    case 'dma_map':
      return `${prefix}DMA map iova ${e.iova} size ${e.size} ${e.readable ? 'r' : '-'}${e.writable ? 'w' : '-'}${e.fd ? ` (fd, offset ${e.offset})` : ' (no fd: DMA by messages)'}${result(e)}`;
    case 'dma_unmap':
      return `${prefix}DMA unmap ${e.all ? 'all' : `iova ${e.iova} size ${e.size}`}${result(e)}`;
    case 'set_irqs':
      return `${prefix}SET_IRQS ${e.irq} ${e.action} ${e.data}${e.data === 'eventfd' ? ` (${e.eventfds} fds)` : ''} vectors ${e.start}..${e.start + e.count - 1}${e.count === 0 ? ' (none)' : ''}${result(e)}`;
    case 'dma_read':
    case 'dma_write':
      return `${prefix}device ${e.type === 'dma_read' ? 'DMA read from' : 'DMA write to'} iova ${e.iova} +${e.size}${result(e)}`;
    case 'reset':
      return `${prefix}DEVICE_RESET${result(e)}`;
    case 'command':
      return `${prefix}${e.name}${e.detail ? ` ${e.detail}` : ''}${result(e)}`;
  }
}
