// Config-space dumps in the hex format of `lspci -x` / `-xxx` / `-xxxx`.
//
// The format, as pciutils' dump reader (lib/dump.c, used by `lspci -F FILE`)
// parses it: a device line "BB:DD.F <text>" (or "DDDD:BB:DD.F <text>"; the
// text is ignored by the reader), then lines "OO: xx xx ..." with the offset in
// lowercase hex (two digits below 0x100, three above, as printf("%02x:")
// prints) and 16 bytes each, then an empty line ending the device. The reader
// takes the config size from the highest byte present, so a 4096-byte dump is
// needed for lspci to decode extended capabilities. lspci -F cannot know BAR
// sizes (it reads them from sysfs, not from config space), so its region
// lines never carry "[size=...]" for a dump.

import { ErrnoError } from '../errors.js';
import { getLe } from './le.js';
import { PCI_CLASS_PROG, PCI_DEVICE_ID, PCI_REVISION_ID, PCI_VENDOR_ID } from './regs.js';
import { className } from './decode.js';
import { hexDigits } from '../util/format.js';

/** A PCI address: domain (segment), bus, device and function numbers. */
export interface PciSlot {
  domain?: number;
  bus: number;
  device: number;
  function: number;
}

/** How {@link formatLspciDump} labels and cuts a dump. */
export interface LspciDumpOptions {
  /** "01:00.0", "0000:01:00.0" or parts (default 00:00.0). */
  slot?: string | PciSlot;
  /** Text after the slot (default: class name and IDs, lspci -n style). */
  description?: string;
  /** Bytes to dump: 64 (-x), 256 (-xxx) or 4096 (-xxxx); default the whole input. */
  length?: 64 | 256 | 4096;
}

/** Format a slot as "BB:DD.F" or "DDDD:BB:DD.F" (00:00.0 when absent); throws EINVAL for a malformed string or numbers out of range. */
export function formatSlot(slot: string | PciSlot | undefined): string {
  if (slot === undefined) return '00:00.0';
  if (typeof slot === 'string') {
    if (!parseSlot(slot)) throw new ErrnoError('EINVAL', `bad PCI slot ${slot}`);
    return slot;
  }
  const { domain, bus, device, function: fn } = slot;
  if (bus < 0 || bus > 0xff || device < 0 || device > 0x1f || fn < 0 || fn > 7) throw new ErrnoError('EINVAL', 'bad PCI slot numbers');
  const bdf = `${hexDigits(bus, 2)}:${hexDigits(device, 2)}.${fn}`;
  return domain === undefined ? bdf : `${hexDigits(domain, 4)}:${bdf}`;
}

/** Parse "BB:DD.F" or "DDDD:BB:DD.F". */
export function parseSlot(s: string): PciSlot | undefined {
  const m = /^(?:([0-9a-fA-F]{4,5}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(s);
  if (!m) return undefined;
  const slot: PciSlot = { bus: parseInt(m[2]!, 16), device: parseInt(m[3]!, 16), function: Number(m[4]) };
  if (m[1]) slot.domain = parseInt(m[1], 16);
  return slot;
}

function defaultDescription(cfg: Uint8Array): string {
  const vendor = getLe(cfg, PCI_VENDOR_ID, 2);
  const device = getLe(cfg, PCI_DEVICE_ID, 2);
  const cls = getLe(cfg, PCI_CLASS_PROG, 3);
  const rev = cfg[PCI_REVISION_ID]!;
  return `${className(cls >> 8)} [${hexDigits(cls >> 8, 4)}]: Device ${hexDigits(vendor, 4)}:${hexDigits(device, 4)}${rev ? ` (rev ${hexDigits(rev, 2)})` : ''}`;
}

/** Format one device's config bytes as lspci prints them (ends with an empty line). */
export function formatLspciDump(cfg: Uint8Array, options: LspciDumpOptions = {}): string {
  const length = options.length ?? cfg.length;
  if (![64, 256, 4096].includes(length) || length > cfg.length) {
    throw new ErrnoError('EINVAL', `dump length ${length} must be 64, 256 or 4096 and at most the ${cfg.length} bytes given`);
  }
  const lines = [`${formatSlot(options.slot)} ${options.description ?? defaultDescription(cfg)}`];
  for (let off = 0; off < length; off += 16) {
    const bytes = Array.from(cfg.subarray(off, off + 16), (b) => hexDigits(b, 2)).join(' ');
    lines.push(`${hexDigits(off, 2)}: ${bytes}`);
  }
  return lines.join('\n') + '\n\n';
}

/** One device parsed from `lspci -x` output. */
export interface ParsedDump {
  slot: PciSlot;
  description: string;
  /** Bytes present in the dump (64, 256 or up to 4096). */
  bytes: Uint8Array;
}

/** Parse `lspci -x...` output (several devices allowed), the inverse of formatLspciDump. */
export function parseLspciDump(text: string): ParsedDump[] {
  const out: ParsedDump[] = [];
  let cur: { slot: PciSlot; description: string; data: Uint8Array; len: number } | undefined;
  const flush = (): void => {
    if (cur) out.push({ slot: cur.slot, description: cur.description, bytes: cur.data.slice(0, cur.len) });
    cur = undefined;
  };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    const head = /^(\S+)\s?(.*)$/.exec(line);
    const slot = head ? parseSlot(head[1]!) : undefined;
    if (slot) {
      flush();
      cur = { slot, description: head![2] ?? '', data: new Uint8Array(4096), len: 0 };
      continue;
    }
    if (line === '') {
      flush();
      continue;
    }
    const m = /^([0-9a-fA-F]{2,8}): ((?:[0-9a-fA-F]{2} ?)*)$/.exec(line);
    if (!cur || !m) continue;
    let off = parseInt(m[1]!, 16);
    for (const b of m[2]!.trim().split(' ').filter(Boolean)) {
      if (off >= 4096) throw new ErrnoError('EINVAL', 'a dump holds at most 4096 bytes of config space');
      cur.data[off++] = parseInt(b, 16);
      cur.len = Math.max(cur.len, off);
    }
  }
  flush();
  return out;
}
