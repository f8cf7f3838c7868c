// `vfio-ts lspci <target> --perms`: which bits of each config register a
// driver can write, found by probing through the same path the driver uses
// (VFIO's or the server's filtering): write ones, read back, write zeros, read
// back, restore the original value, read back.
//
// What it can see: the effective writable mask per register as the driver sees
// it (virtualised or passed through alike). What it cannot: whether a bit is
// virtualised or real, write-1-to-clear bits, bits whose writes are dropped
// while reading back a fixed value, and anything a write would set off - those
// registers and bits are not probed at all (POLICY below) and listed as such.

import type { Device } from '../client/device.js';
import { walkCapabilities } from '../pci/cap-walk.js';
import { ConfigSpace } from '../pci/config-space.js';
import { configBytes } from './lspci.js';
import { capShortName, configRegisters, describeRegisterValue, type ConfigRegister, type TraceCapability } from './trace-format.js';
import { hex } from '../util/format.js';

/** How a register is probed: bits in `exclude` are never changed; `skip` means not at all. */
interface Policy {
  skip?: string;
  exclude?: number;
  why?: string;
}

const W1C = 'write-1-to-clear status: writing ones would clear it';

/** Registers and bits never probed, and why. */
export const NOT_PROBED: Record<string, Policy> = {
  STATUS: { skip: W1C },
  BIST: { skip: 'action: bit 6 starts a built-in self test' },
  'PM.PMCSR': { skip: 'action: power-state change (D-state bits), PME status is write-1-to-clear' },
  'MSI.CONTROL': { exclude: 0x0001, why: 'MSI enable (action: only through SET_IRQS)' },
  'MSI-X.CONTROL': { exclude: 0x8000, why: 'MSI-X enable (action: only through SET_IRQS)' },
  'PCIe.DEVCTL': { exclude: 0x8000, why: 'initiate function-level reset (action)' },
  'PCIe.DEVSTA': { skip: W1C },
  'PCIe.LNKCTL': { exclude: 0x0030, why: 'link disable, retrain link (action)' },
  'PCIe.LNKSTA': { skip: W1C },
  'PCIe.SLTCTL': { skip: 'action: slot power and indicator control' },
  'PCIe.SLTSTA': { skip: W1C },
  'PCIe.RTCTL': { skip: 'action: root control' },
  'PCIe.RTSTA': { skip: W1C },
  'PCIe.DEVSTA2': { skip: W1C },
  'PCIe.LNKSTA2': { skip: W1C },
  'PCIe.SLTCTL2': { skip: 'action: slot control' },
  'PCIe.SLTSTA2': { skip: W1C },
  'AF.CTRL': { exclude: 0x01, why: 'initiate function-level reset (action)' },
  'AER.UNCOR_STATUS': { skip: W1C },
  'AER.COR_STATUS': { skip: W1C },
  'AER.ROOT_STATUS': { skip: W1C },
};

export interface RegisterPerms {
  offset: number;
  size: number;
  name: string;
  /** Value before probing. */
  value: number;
  /** Bits that took both a written one and a written zero. */
  writable?: number;
  /** Not probed at all, and why. */
  notProbed?: string;
  /** The permission model's masks for the register (the kernel's vfio-pci tables), when it covers it. */
  policy?: { virt: number; write: number };
  /** Bits left out of the probe, and why. */
  excluded?: { mask: number; why: string };
  /** Something the probe noticed (a write refused, a value not restored). */
  note?: string;
}

/** A register value as 0x and two digits a byte. */
const hexBytes = (n: number, bytes: number): string => hex(n, bytes * 2);

function rd(dev: Device, off: number, size: number): number {
  return size === 1 ? dev.config.read8(off) : size === 2 ? dev.config.read16(off) : dev.config.read32(off) >>> 0;
}

function wr(dev: Device, off: number, size: number, v: number): void {
  if (size === 1) dev.config.write8(off, v & 0xff);
  else if (size === 2) dev.config.write16(off, v & 0xffff);
  else dev.config.write32(off, v >>> 0);
}

function errCode(err: unknown): string {
  return (err as { code?: string }).code ?? (err as Error).message;
}

/** Probes every named register of the header and of the capabilities the device shows. */
export function probePermissions(dev: Device): RegisterPerms[] {
  const cfg = configBytes(dev);
  const caps: TraceCapability[] = walkCapabilities(cfg);
  const regs = configRegisters(caps);
  // The permission model applied to this layout: what VFIO (and our server) virtualise and allow.
  let model: ConfigSpace | undefined;
  try {
    model = ConfigSpace.fromRaw(cfg);
  } catch {
    model = undefined;
  }
  const out: RegisterPerms[] = [];
  let upperBar = false;
  for (const r of regs) {
    const full = r.size === 4 ? 0xffffffff : r.size === 2 ? 0xffff : 0xff;
    const value = rd(dev, r.offset, r.size);
    const res: RegisterPerms = { offset: r.offset, size: r.size, name: r.name, value };
    if (model && r.size <= 4) res.policy = model.permissions(r.offset, r.size as 1 | 2 | 4);
    out.push(res);
    const policy = NOT_PROBED[r.name];
    if (policy?.skip) {
      res.notProbed = policy.skip;
      continue;
    }
    try {
      if (/^BAR[0-5]$/.test(r.name)) {
        // The standard sizing sequence only: all ones, read, restore.
        const typeBits = upperBar ? 0 : value & 1 ? 0x3 : 0xf;
        const is64: boolean = !upperBar && (value & 0x7) === 0x4;
        wr(dev, r.offset, 4, 0xffffffff);
        const a = rd(dev, r.offset, 4);
        wr(dev, r.offset, 4, value);
        res.writable = (a & ~typeBits) >>> 0;
        res.note = upperBar ? 'upper half of a 64-bit BAR (sizing sequence)' : 'sizing sequence only';
        upperBar = is64;
      } else if (r.name === 'ROM_ADDRESS') {
        const enable = value & 1;
        wr(dev, r.offset, 4, 0xfffff800 | enable);
        const a = rd(dev, r.offset, 4);
        wr(dev, r.offset, 4, value);
        res.writable = (a & 0xfffff800) >>> 0;
        res.note = 'sizing sequence only; enable bit not probed';
      } else {
        const excl = policy?.exclude ?? 0;
        if (excl) res.excluded = { mask: excl, why: policy!.why ?? 'action' };
        const keep = value & excl;
        wr(dev, r.offset, r.size, ((full & ~excl) | keep) >>> 0);
        const a = rd(dev, r.offset, r.size);
        wr(dev, r.offset, r.size, keep);
        const b = rd(dev, r.offset, r.size);
        wr(dev, r.offset, r.size, value);
        res.writable = (a & ~b & ~excl & full) >>> 0;
      }
      const back = rd(dev, r.offset, r.size);
      if (back !== value)
        res.note = `${res.note ? res.note + '; ' : ''}reads ${hexBytes(back, r.size)} after restoring ${hexBytes(value, r.size)}`;
    } catch (err) {
      res.note = `write refused (${errCode(err)})`;
      try {
        wr(dev, r.offset, r.size, value);
      } catch {
        // nothing more to do
      }
    }
  }
  // What lies in a capability outside its named registers is left alone: its meaning is not known here.
  for (const c of caps) {
    const named = regs.filter(
      (r: ConfigRegister) =>
        r.capId === c.id && r.extended === c.extended && r.offset >= c.offset && r.offset < c.offset + Math.max(c.length, 1),
    );
    const end = named.reduce((m, r) => Math.max(m, r.offset + r.size), c.offset);
    if (c.length > end - c.offset) {
      out.push({
        offset: end,
        size: c.offset + c.length - end,
        name: `${capShortName(c.id, c.extended)}+0x${(end - c.offset).toString(16)}..0x${(c.length - 1).toString(16)}`,
        value: 0,
        notProbed: 'capability-specific (semantics unknown here)',
      });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** The probe's results as text, one register a line. */
export function formatPermissions(rows: readonly RegisterPerms[]): string {
  const lines = [
    'Write permissions as this driver sees them (probed: write ones, zeros, restore; see docs/cli.md),',
    "and the permission model's masks for the register (the kernel's vfio-pci tables: virtual / writable bits):",
  ];
  for (const r of rows) {
    const head = `\t[0x${r.offset.toString(16).padStart(3, '0')}] ${r.name.padEnd(22)}`;
    const size0 = Math.min(r.size, 4);
    const policy = r.policy ? `  [model: virtual ${hexBytes(r.policy.virt, size0)}, writable ${hexBytes(r.policy.write, size0)}]` : '';
    if (r.notProbed) {
      lines.push(`${head} not probed (${r.notProbed})${policy}`);
      continue;
    }
    const size = Math.min(r.size, 4);
    let s = `${head} = ${hexBytes(r.value, size).padEnd(10)}  writable ${r.writable ? hexBytes(r.writable, size) : 'none'}`;
    const meaning = r.writable ? describeBits(r.name, r.writable) : '';
    if (meaning) s += ` (${meaning})`;
    if (r.excluded) s += `; not probed (action): ${hexBytes(r.excluded.mask, size)} ${r.excluded.why}`;
    if (r.note) s += `; ${r.note}`;
    lines.push(s + policy);
  }
  return lines.join('\n') + '\n';
}

function describeBits(name: string, mask: number): string {
  if (name === 'COMMAND' || name === 'PCIe.DEVCTL') return describeRegisterValue(name, mask).split(',')[0]!;
  return '';
}
