// The host-side pieces of the guest harness that need no guest: the cpio
// writer, module dependency resolution, the PVH note check, the job script's
// quoting and the test disk's content.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeCpio } from '../../vm/cpio.js';
import {
  DISK_BLOCK_SIZE,
  DISK_BLOCKS,
  diskBlock,
  diskImage,
  DRIVER_WRITE_BLOCKS,
  DRIVER_WRITE_LBA,
  driverWritePattern,
} from '../../vm/disk.js';
import { jobScript } from '../../vm/harness.js';
import { hasPvhEntry, moduleName, readModuleIndex, resolveModules } from '../../vm/kernel.js';
import { qemuArgs } from '../../vm/qemu.js';

test('cpio: newc headers, padding and trailer', () => {
  const a = writeCpio([
    { type: 'dir', path: '/bin' },
    { type: 'file', path: 'bin/hello', data: 'hi\n', mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
  ]);
  assert.equal(a.length % 4, 0);
  // Walk the archive as the kernel does.
  const names: string[] = [];
  let off = 0;
  for (;;) {
    assert.equal(a.toString('ascii', off, off + 6), '070701', `magic at ${off}`);
    const field = (i: number): number => parseInt(a.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const namesize = field(11);
    const rdev = [field(9), field(10)];
    const name = a.toString('utf8', off + 110, off + 110 + namesize - 1);
    names.push(name);
    off += 110 + namesize;
    off += (4 - (off % 4)) % 4;
    const data = a.subarray(off, off + size);
    if (name === 'bin/hello') {
      assert.equal(mode, 0o100755);
      assert.equal(data.toString(), 'hi\n');
    }
    if (name === 'bin/sh') assert.equal(data.toString(), '/bin/busybox');
    if (name === 'dev/console') assert.deepEqual([mode, ...rdev], [0o020600, 5, 1]);
    off += size;
    off += (4 - (off % 4)) % 4;
    if (name === 'TRAILER!!!') break;
  }
  assert.equal(off, a.length);
  assert.deepEqual(names, ['bin', 'bin/hello', 'bin/sh', 'dev/console', 'TRAILER!!!']);
});

test('cpio: GNU cpio reads the archive', { skip: existsSync('/usr/bin/cpio') ? false : 'no /usr/bin/cpio' }, () => {
  const a = writeCpio([
    { type: 'dir', path: 'etc' },
    { type: 'file', path: 'etc/motd', data: Buffer.from('x'.repeat(1001)) },
    { type: 'symlink', path: 'etc/link', target: 'motd' },
  ]);
  const list = execFileSync('/usr/bin/cpio', ['-it', '--quiet'], { input: a, encoding: 'utf8' });
  assert.deepEqual(list.trim().split('\n'), ['etc', 'etc/motd', 'etc/link']);
});

test('modules: names, dependency order, built-ins, unknown names', () => {
  assert.equal(moduleName('kernel/drivers/vfio/pci/vfio-pci.ko.xz'), 'vfio_pci');
  assert.equal(moduleName('9pnet_virtio'), '9pnet_virtio');
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-vm-test-'));
  try {
    writeFileSync(
      join(dir, 'modules.dep'),
      [
        'kernel/drivers/vfio/vfio.ko:',
        'kernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko',
        'kernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/drivers/vfio/vfio_virqfd.ko kernel/drivers/vfio/vfio.ko kernel/virt/lib/irqbypass.ko',
        'kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio_virqfd.ko kernel/drivers/vfio/vfio.ko kernel/virt/lib/irqbypass.ko',
        'kernel/drivers/vfio/vfio_virqfd.ko:',
        'kernel/virt/lib/irqbypass.ko:',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\n');
    const index = readModuleIndex(dir);
    const order = resolveModules(index, ['vfio-pci', 'vfio_iommu_type1', 'virtio']).map((m) => m.name);
    assert.deepEqual([...order].sort(), ['irqbypass', 'vfio', 'vfio_iommu_type1', 'vfio_pci', 'vfio_pci_core', 'vfio_virqfd']);
    // every module after all of its dependencies
    for (const [i, name] of order.entries()) {
      for (const dep of index.deps.get(name) ?? []) assert.ok(order.indexOf(dep) < i, `${dep} before ${name}`);
    }
    assert.ok(!order.includes('virtio'), 'built-in modules are not loaded');
    assert.throws(() => resolveModules(index, ['nvme']), /nvme is neither/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("modules: the guest set resolves against this machine's kernel", async (t) => {
  const { findKernel } = await import('../../vm/kernel.js');
  const { GUEST_MODULES } = await import('../../vm/initramfs.js');
  let kernel;
  try {
    kernel = findKernel();
  } catch (err) {
    t.skip(`no kernel: ${(err as Error).message}`);
    return;
  }
  const index = readModuleIndex(kernel.modulesDir);
  const names = resolveModules(index, GUEST_MODULES).map((m) => m.name);
  for (const m of GUEST_MODULES) assert.ok(names.includes(m) || index.builtin.has(m), m);
  assert.ok(!names.includes('nvme') && !names.includes('nvme_core'), 'no nvme driver in the guest');
});

test('PVH note: found in an ELF note, absent otherwise', () => {
  // A minimal ELF64 with one PT_NOTE holding the "Xen" note type 18.
  const note = Buffer.alloc(12 + 4 + 8);
  note.writeUInt32LE(4, 0); // namesz "Xen\0"
  note.writeUInt32LE(8, 4); // descsz
  note.writeUInt32LE(18, 8);
  note.write('Xen\0', 12, 'latin1');
  const elf = Buffer.alloc(64 + 56 + note.length);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeBigUInt64LE(64n, 32); // e_phoff
  elf.writeUInt16LE(56, 54); // e_phentsize
  elf.writeUInt16LE(1, 56); // e_phnum
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(120n, 64 + 8); // p_offset
  elf.writeBigUInt64LE(BigInt(note.length), 64 + 32); // p_filesz
  note.copy(elf, 120);
  assert.equal(hasPvhEntry(elf), true);
  note.writeUInt32LE(17, 8);
  note.copy(elf, 120);
  assert.equal(hasPvhEntry(elf), false);
  assert.equal(hasPvhEntry(Buffer.from('MZ not an elf')), false);
});

test('job script: quoting survives the shell, environment is exactly the given one', () => {
  const argv = ['sh', '-c', 'printf "%s|" "$@"; printf "%s|%s" "$A" "$(pwd)"', 'x', "it's", 'a b', '$HOME', '`id`', ''];
  const script = jobScript(argv, '/', { A: "v'1 $x", PATH: process.env.PATH ?? '/usr/bin:/bin' }, undefined);
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: {} });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "it's|a b|$HOME|`id`||v'1 $x|/");
  assert.match(
    jobScript(['id'], '/w', {}, { uid: 1000, gid: 1000 }),
    /exec \/usr\/bin\/setpriv --reuid=1000 --regid=1000 --clear-groups -- 'id'\n$/,
  );
  assert.throws(() => jobScript(['id'], '/', { 'BAD-NAME': '1' }, undefined), /bad environment variable name/);
  const missing = spawnSync('/bin/sh', ['-c', jobScript(['/nonexistent/cmd'], '/', {}, undefined)], { encoding: 'utf8' });
  assert.equal(missing.status, 127);
  const badCwd = spawnSync('/bin/sh', ['-c', jobScript(['true'], '/nonexistent/dir', {}, undefined)], { encoding: 'utf8' });
  assert.equal(badCwd.status, 127);
});

test('disk: deterministic blocks', () => {
  const img = diskImage();
  assert.equal(img.length, DISK_BLOCKS * DISK_BLOCK_SIZE);
  assert.deepEqual(img.subarray(0, DISK_BLOCK_SIZE), diskBlock(0));
  assert.deepEqual(img.subarray(100 * DISK_BLOCK_SIZE, 101 * DISK_BLOCK_SIZE), diskBlock(100));
  assert.equal(diskBlock(7).toString('ascii', 0, 21), 'vfio-ts disk block 7\n');
  assert.notDeepEqual(diskBlock(1), diskBlock(2));
  assert.throws(() => diskBlock(DISK_BLOCKS), RangeError);
});

test('disk: the driver write pattern is deterministic, inside the disk and unlike what the host wrote', () => {
  const p = driverWritePattern();
  assert.ok(!(p instanceof Buffer), 'a plain Uint8Array (compares deep-equal to what the driver reads)');
  assert.equal(p.length, DRIVER_WRITE_BLOCKS * DISK_BLOCK_SIZE);
  assert.ok(Buffer.from(p).equals(Buffer.from(driverWritePattern())));
  assert.ok(DRIVER_WRITE_LBA > 0 && DRIVER_WRITE_LBA + DRIVER_WRITE_BLOCKS < DISK_BLOCKS);
  for (let i = 0; i < DRIVER_WRITE_BLOCKS; i++) {
    assert.ok(
      !Buffer.from(p.subarray(i * DISK_BLOCK_SIZE, (i + 1) * DISK_BLOCK_SIZE)).equals(diskBlock(DRIVER_WRITE_LBA + i)),
      `block ${i}`,
    );
  }
});

test('qemu: the disk is snapshot=on unless asked to be writable', () => {
  const base = { kernel: 'k', initramfs: 'i', disk: '/d.img', jobDir: '/j', memoryMiB: 1024, cpus: 1 };
  const drive = (args: string[]): string => args[args.indexOf('-drive') + 1]!;
  assert.equal(drive(qemuArgs(base)), 'if=none,id=nvm0,file=/d.img,format=raw,snapshot=on');
  assert.equal(drive(qemuArgs({ ...base, diskSnapshot: false })), 'if=none,id=nvm0,file=/d.img,format=raw');
});

test('the iommufd kernel: found by VFIO_TS_VM_IOMMUFD_KERNEL (file or folder) or in shared/kernels above; else an error saying how to build one', async () => {
  const { findIommufdKernel, kernelConfigOption } = await import('../../vm/kernel.js');
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-kernels-'));
  try {
    const kernels = join(dir, 'shared', 'kernels');
    const deep = join(dir, 'wt', 'checkout', 'out', 'vm');
    mkdirSync(kernels, { recursive: true });
    mkdirSync(deep, { recursive: true });
    assert.throws(() => findIommufdKernel({}, deep), /no iommufd kernel .*vm\/build-iommufd-kernel\.sh/);
    assert.throws(
      () => findIommufdKernel({ VFIO_TS_VM_IOMMUFD_KERNEL: kernels }, deep),
      /VFIO_TS_VM_IOMMUFD_KERNEL=.*build-iommufd-kernel\.sh/,
    );
    writeFileSync(join(kernels, 'bzImage-6.12.9-iommufd'), 'old');
    writeFileSync(join(kernels, 'bzImage-6.12.118-iommufd'), 'new');
    writeFileSync(
      join(kernels, 'config-6.12.118-iommufd'),
      'CONFIG_IOMMUFD=y\n# CONFIG_IO_STRICT_DEVMEM is not set\nCONFIG_LOCALVERSION="-iommufd"\n',
    );
    const k = findIommufdKernel({}, deep);
    assert.deepEqual(
      k,
      { version: '6.12.118-iommufd', image: join(kernels, 'bzImage-6.12.118-iommufd'), modulesDir: null },
      'the newest, from an ancestor',
    );
    assert.equal(findIommufdKernel({ VFIO_TS_VM_IOMMUFD_KERNEL: kernels }, '/').image, k.image);
    const old = join(kernels, 'bzImage-6.12.9-iommufd');
    assert.equal(findIommufdKernel({ VFIO_TS_VM_IOMMUFD_KERNEL: old }, '/').version, '6.12.9-iommufd');
    assert.equal(kernelConfigOption(k, 'IOMMUFD'), 'y');
    assert.equal(kernelConfigOption(k, 'IO_STRICT_DEVMEM'), 'n');
    assert.equal(kernelConfigOption(k, 'LOCALVERSION'), '"-iommufd"');
    assert.equal(kernelConfigOption(k, 'NOT_THERE'), 'n');
    assert.equal(kernelConfigOption({ ...k, version: '6.12.9-iommufd' }, 'IOMMUFD'), undefined, 'no config beside the image');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
