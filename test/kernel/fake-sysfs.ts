// A fake machine for the kernel backend's diagnosis and bind code: a sysfs
// tree (devices with iommu_group and driver links, iommu_groups with their
// members, drivers, vfio-dev cdev names), a /dev with VFIO files (plain files
// standing in for the character devices: groups, cdevs, /dev/iommu), /proc/self/limits and passwd/group databases, all in a
// temporary directory, described by VfioPaths.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VfioPaths } from '../../src/kernel/sysfs.js';

export interface FakeDevice {
  bdf: string;
  group?: number;
  driver?: string;
  vendor?: string;
  device?: string;
}

export interface FakeMachine {
  root: string;
  paths: VfioPaths;
  addDevice(d: FakeDevice): void;
  addDriver(name: string): void;
  /** A stand-in for /dev/vfio/<name>. */
  addDevFile(name: string, mode?: number): string;
  /** Gives the device a vfio cdev in sysfs (vfio-dev/<name>), and with `inDev` its /dev/vfio/devices/<name>; returns that path. */
  addCdev(bdf: string, name: string, options?: { inDev?: boolean; mode?: number }): string;
  /** A stand-in for /dev/iommu. */
  addIommu(mode?: number): string;
  setMemlock(soft: string, hard: string): void;
  cleanup(): void;
}

export function fakeMachine(): FakeMachine {
  const root = mkdtempSync(join(tmpdir(), 'vfio-ts-fake-'));
  const sys = join(root, 'sys');
  const dev = join(root, 'dev');
  const paths: VfioPaths = { sys, dev, limits: join(root, 'limits'), passwd: join(root, 'passwd'), group: join(root, 'group') };
  mkdirSync(join(sys, 'bus', 'pci', 'devices'), { recursive: true });
  mkdirSync(join(sys, 'bus', 'pci', 'drivers'), { recursive: true });
  mkdirSync(join(sys, 'devices', 'pci0000:00'), { recursive: true });
  mkdirSync(join(sys, 'kernel', 'iommu_groups'), { recursive: true });
  mkdirSync(join(dev, 'vfio'), { recursive: true });
  writeFileSync(join(sys, 'bus', 'pci', 'drivers_probe'), '');
  writeFileSync(paths.passwd, 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  writeFileSync(paths.group, 'root:x:0:\nalice:x:1000:\nkvm:x:993:alice\n');
  const m: FakeMachine = {
    root,
    paths,
    addDriver(name) {
      const d = join(sys, 'bus', 'pci', 'drivers', name);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'unbind'), '');
      writeFileSync(join(d, 'bind'), '');
    },
    addDevice(d) {
      const real = join(sys, 'devices', 'pci0000:00', d.bdf);
      mkdirSync(real, { recursive: true });
      writeFileSync(join(real, 'vendor'), `${d.vendor ?? '0x1234'}\n`);
      writeFileSync(join(real, 'device'), `${d.device ?? '0x11e8'}\n`);
      writeFileSync(join(real, 'driver_override'), '(null)\n');
      symlinkSync(`../../../devices/pci0000:00/${d.bdf}`, join(sys, 'bus', 'pci', 'devices', d.bdf));
      if (d.group !== undefined) {
        const g = join(sys, 'kernel', 'iommu_groups', String(d.group), 'devices');
        mkdirSync(g, { recursive: true });
        symlinkSync(`../../../../devices/pci0000:00/${d.bdf}`, join(g, d.bdf));
        symlinkSync(`../../../kernel/iommu_groups/${d.group}`, join(real, 'iommu_group'));
      }
      if (d.driver !== undefined) {
        m.addDriver(d.driver);
        symlinkSync(`../../../bus/pci/drivers/${d.driver}`, join(real, 'driver'));
      }
    },
    addDevFile(name, mode = 0o600) {
      const f = join(dev, 'vfio', name);
      writeFileSync(f, '', { mode });
      return f;
    },
    addCdev(bdf, name, options = {}) {
      const node = join(sys, 'devices', 'pci0000:00', bdf, 'vfio-dev', name);
      mkdirSync(node, { recursive: true });
      writeFileSync(join(node, 'dev'), '247:0\n');
      const f = join(dev, 'vfio', 'devices', name);
      if (options.inDev ?? true) {
        mkdirSync(join(dev, 'vfio', 'devices'), { recursive: true });
        writeFileSync(f, '', { mode: options.mode ?? 0o600 });
      }
      return f;
    },
    addIommu(mode = 0o660) {
      const f = join(dev, 'iommu');
      writeFileSync(f, '', { mode });
      return f;
    },
    setMemlock(soft, hard) {
      writeFileSync(
        paths.limits,
        [
          'Limit                     Soft Limit           Hard Limit           Units     ',
          'Max cpu time              unlimited            unlimited            seconds   ',
          `Max locked memory         ${soft.padEnd(20)} ${hard.padEnd(20)} bytes     `,
          'Max address space         unlimited            unlimited            bytes     ',
          '',
        ].join('\n'),
      );
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  return m;
}
