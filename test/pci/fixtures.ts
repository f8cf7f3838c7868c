// Shared declarations and test doubles for the config-space tests (no tests here).

import { MemoryBacking, type AccessSize } from '../../src/pci/backing.js';
import type { DeviceDecl } from '../../src/pci/builder.js';
import { buildLayout } from '../../src/pci/builder.js';
import { ConfigSpace, type ConfigSpaceOptions } from '../../src/pci/config-space.js';

/** QEMU edu-like: 1234:11e8, class 00ff, 1 MiB BAR0, MSI. */
export const EDU: DeviceDecl = {
  vendorId: 0x1234,
  deviceId: 0x11e8,
  revision: 0x10,
  classCode: 0x00ff00,
  interruptPin: 1,
  bars: [{ kind: 'mem32', size: 1 << 20 }],
  capabilities: [{ id: 'msi', vectors: 1, address64: true }],
};

/** NVMe-like PCIe device: class 010802, 64-bit 16 KiB BAR0, PM + MSI + MSI-X + PCIe, AER + DSN. */
export const NVME: DeviceDecl = {
  vendorId: 0x1b36,
  deviceId: 0x0010,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x1100,
  revision: 2,
  classCode: { base: 0x01, sub: 0x08, progIf: 0x02 },
  interruptPin: 1,
  bars: [{ kind: 'mem64', size: 16 * 1024 }],
  capabilities: [
    { id: 'pm', d1: false, d2: true },
    { id: 'msi', vectors: 4, perVectorMask: true },
    { id: 'msix', tableSize: 65, table: { bar: 0, offset: 0x2000 }, pba: { bar: 0, offset: 0x3000 } },
    { id: 'pcie', maxPayload: 512, linkSpeed: 3, linkWidth: 4 },
  ],
  extendedCapabilities: [{ id: 'aer' }, { id: 'dsn', serial: 0x0011223344556677n }],
};

export interface Access {
  op: 'read' | 'write';
  offset: number;
  size: AccessSize;
  value: number;
}

/** A MemoryBacking that records every access the engine makes to the "hardware". */
export class SpyBacking extends MemoryBacking {
  log: Access[] = [];
  override read(offset: number, size: AccessSize): number {
    const value = super.read(offset, size);
    this.log.push({ op: 'read', offset, size, value });
    return value;
  }
  override write(offset: number, size: AccessSize, value: number): void {
    this.log.push({ op: 'write', offset, size, value });
    super.write(offset, size, value);
  }
  writes(): Access[] {
    return this.log.filter((a) => a.op === 'write');
  }
}

/** Build a config space over a SpyBacking with the layout's hardware rules. */
export function withSpy(decl: DeviceDecl, options: Omit<ConfigSpaceOptions, 'backing'> = {}): { cs: ConfigSpace; spy: SpyBacking } {
  const layout = buildLayout(decl);
  const spy = new SpyBacking(layout.hardware, { writable: layout.writable, w1c: layout.w1c });
  const cs = new ConfigSpace(layout, { ...options, backing: spy });
  spy.log = [];
  return { cs, spy };
}

/** Expect a thrown error with this `code` (and optionally `reason`). */
export function errorWith(code: string, reason?: string): (e: unknown) => boolean {
  return (e: unknown) => {
    const err = e as { code?: string; reason?: string };
    return err.code === code && (reason === undefined || err.reason === reason);
  };
}
