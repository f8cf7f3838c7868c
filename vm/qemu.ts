// The QEMU command line of a test guest.
//
// A q35 machine with an emulated Intel IOMMU (VT-d) so the guest kernel gives
// each device an IOMMU group and vfio_iommu_type1 has something to program;
// interrupt remapping on, so vfio accepts MSI/MSI-X without
// allow_unsafe_interrupts; caching-mode on, as any vIOMMU that VFIO sits behind
// needs. The IOMMU device must come before the devices it translates for.
// Then QEMU's edu and nvme devices (fixed addresses, so tests can name them),
// and two virtio-9p shares: the host's root, read-only, and the run's job
// directory, read-write. -nodefaults leaves out the NIC, VGA and the rest.
// The console is ttyS0 on QEMU's stdio.
//
// Always TCG: the design's reference setup, it needs nothing from the host, and
// nested KVM on these machines does not boot this guest (KVM would also need
// kernel-irqchip=split for interrupt remapping). The kernel booted is the
// vmlinux extracted from the bzImage when it has a PVH entry (QEMU then skips
// the real-mode setup and, more to the point under TCG, the kernel's own xz
// decompressor, ~4 s here).

import { NVME_SERIAL } from './disk.js';

/** PCI addresses of the guest's devices, as the guest sees them. */
export const GUEST_DEVICES = {
  edu: { bdf: '0000:00:04.0', vendor: 0x1234, device: 0x11e8 },
  nvme: { bdf: '0000:00:05.0', vendor: 0x1b36, device: 0x0010 },
} as const;

/** "1234:11e8" ids that the guest binds to vfio-pci. */
export const VFIO_BIND_IDS = Object.values(GUEST_DEVICES).map(
  (d) => `${d.vendor.toString(16).padStart(4, '0')}:${d.device.toString(16).padStart(4, '0')}`,
);

export interface QemuConfig {
  kernel: string;
  initramfs: string;
  disk: string;
  /** Open the disk with snapshot=on (writes thrown away at exit); default true. */
  diskSnapshot?: boolean;
  jobDir: string;
  memoryMiB: number;
  cpus: number;
  /** Extra kernel command-line words. */
  append?: readonly string[];
  extraArgs?: readonly string[];
}

export function kernelCommandLine(extra: readonly string[] = []): string {
  return ['console=ttyS0', 'intel_iommu=on', 'panic=-1', 'quiet', 'loglevel=3', 'random.trust_cpu=on', 'cryptomgr.notests', ...extra].join(
    ' ',
  );
}

export function qemuArgs(c: QemuConfig): string[] {
  return [
    '-nodefaults',
    '-no-user-config',
    '-accel',
    'tcg',
    '-M',
    'q35',
    '-cpu',
    'max',
    '-m',
    `${c.memoryMiB}M`,
    '-smp',
    String(c.cpus),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    c.kernel,
    '-initrd',
    c.initramfs,
    '-append',
    kernelCommandLine(c.append),
    '-device',
    'intel-iommu,intremap=on,caching-mode=on',
    '-device',
    `edu,addr=${GUEST_DEVICES.edu.bdf.slice(8)}`,
    '-drive',
    `if=none,id=nvm0,file=${c.disk},format=raw${c.diskSnapshot === false ? '' : ',snapshot=on'}`,
    '-device',
    `nvme,addr=${GUEST_DEVICES.nvme.bdf.slice(8)},serial=${NVME_SERIAL},drive=nvm0`,
    '-fsdev',
    'local,id=fshost,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device',
    'virtio-9p-pci,fsdev=fshost,mount_tag=host,addr=06.0',
    '-fsdev',
    `local,id=fsjob,path=${c.jobDir},security_model=none`,
    '-device',
    'virtio-9p-pci,fsdev=fsjob,mount_tag=job,addr=07.0',
    ...(c.extraArgs ?? []),
  ];
}
