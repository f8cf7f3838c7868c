// The set-up mistakes users make, made on purpose in the guest as the
// unprivileged user, each answered by a typed error with a stable code and a
// hint: a malformed address, a device that does not exist, one bound to
// another driver, a group another process holds, DMA beyond RLIMIT_MEMLOCK,
// and the flow `auto` takes on this kernel (the iommufd flow forced on a
// kernel without it is VFIO_NO_CDEV). (A group file or cdev the user may not
// open, a missing /dev/iommu, and a device bound to no driver, need root to
// arrange: they are in root-bind.test.ts.)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { ErrnoError } from '../../src/errors.js';
import { openGroupCount, openKernelBackend, openKernelDevice, VfioSetupError } from './vfio-api.js';
import { AUTO_FLOW, childScript, EDU, FLOW, guestTest, NOT_VFIO, runNode, VFIO_MODULE } from './helpers.js';

/** Runs `fn`, expects a VfioSetupError with `code`, reports its message as a diagnostic, returns it. */
function setupError(t: TestContext, code: string, fn: () => unknown): VfioSetupError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VfioSetupError, `a VfioSetupError, not ${String(e)}`);
    assert.equal(e.code, code, e.message);
    t.diagnostic(e.message);
    return e;
  }
  assert.fail(`no error: expected ${code}`);
}

guestTest('refusal: malformed PCI addresses are EINVAL before anything is opened', {}, () => {
  for (const bad of ['00:04', 'zz:00.0', '0000:00:20.0', '0000:00:04.8', '', '0000:00:04.0.1', '/dev/vfio/1']) {
    assert.throws(
      () => openKernelDevice(bad),
      (e: unknown) => e instanceof ErrnoError && e.code === 'EINVAL',
      JSON.stringify(bad),
    );
  }
  assert.equal(openGroupCount(), 0);
});

guestTest('refusal: a PCI address with no device behind it', {}, (t) => {
  const e = setupError(t, 'VFIO_NO_DEVICE', () => openKernelDevice('0000:00:1e.0'));
  assert.ok(e.message.includes('/sys/bus/pci/devices/0000:00:1e.0'));
});

guestTest('refusal: a device bound to another driver (virtio-9p at 00:06.0 on virtio-pci)', {}, (t) => {
  const e = setupError(t, 'VFIO_NOT_BOUND', () => openKernelDevice(NOT_VFIO));
  assert.match(e.message, /bound to virtio-pci, not to vfio-pci/);
  assert.ok(e.hint.includes(`/sys/bus/pci/devices/${NOT_VFIO}/driver_override`));
  assert.ok(e.hint.includes('take it from virtio-pci'));
});

guestTest('refusal: a device another process holds is VFIO_GROUP_BUSY (through either flow)', {}, async (t) => {
  // A child opens edu and waits; meanwhile our open of the same group must fail.
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { openKernelDevice } from ${JSON.stringify(VFIO_MODULE)}; const d = openKernelDevice(${JSON.stringify(EDU)}); console.log('open'); process.stdin.once('data', () => { d.close(); process.exit(0); });`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('open')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before opening edu`)));
    });
    const e = setupError(t, 'VFIO_GROUP_BUSY', () => openKernelDevice(EDU));
    if (FLOW === 'container') {
      assert.equal(e.errnoName, 'EBUSY');
      assert.match(e.message, /\/dev\/vfio\/\d+ is already open/);
    } else {
      // VFIO_DEVICE_BIND_IOMMUFD of a device bound elsewhere: EINVAL from the kernel.
      assert.equal(e.errnoName, 'EINVAL');
      assert.match(e.message, /already in use \(\/dev\/vfio\/devices\/vfio\d+ bound by another open/);
    }
    if (AUTO_FLOW === 'iommufd') {
      // Held through one flow, refused through the other too.
      const other = FLOW === 'container' ? 'iommufd' : 'container';
      const x = setupError(t, 'VFIO_GROUP_BUSY', () => openKernelDevice(EDU, { iommu: other }));
      t.diagnostic(`through ${other}: ${x.errnoName}`);
    }
  } finally {
    child.stdin!.write('x');
    await new Promise((r) => child.once('exit', r));
  }
  // Released by the child: ours again.
  const d = openKernelDevice(EDU);
  d.close();
});

guestTest('refusal: DMA beyond RLIMIT_MEMLOCK (ulimit -l 64) is VFIO_MEMLOCK with the limit', { root: false }, (t) => {
  const r = runNode(
    childScript(`
      const dev = vfio.openKernelDevice(${JSON.stringify(EDU)});
      try { dev.allocDma(1 << 20); } finally { dev.close(); }
    `),
    { shellPrefix: 'ulimit -l 64' },
  );
  assert.equal(r.status, 0, r.stderr);
  const e = r.json!;
  assert.equal(e.ok, false, 'a 1 MiB DMA map under a 64 KiB limit fails');
  t.diagnostic(String(e.message));
  assert.equal(e.code, 'VFIO_MEMLOCK', String(e.message));
  assert.equal(e.errnoName, 'ENOMEM');
  assert.match(String(e.message), /65536 bytes \(64 KiB\) soft, 65536 bytes \(64 KiB\) hard/);
  assert.match(String(e.hint), /ulimit -l unlimited/);
});

guestTest(`the flow auto takes on this kernel: ${AUTO_FLOW} (as the host-side runner expects)`, {}, (t) => {
  const b = openKernelBackend(EDU, { iommu: 'auto' });
  try {
    assert.equal(b.flow, AUTO_FLOW);
    assert.equal(b.dma.kind, AUTO_FLOW === 'iommufd' ? 'iommufd' : 'type1');
  } finally {
    b.close();
  }
  if (AUTO_FLOW === 'container') {
    // Linux 6.1: no vfio cdev.
    const e = setupError(t, 'VFIO_NO_CDEV', () => openKernelDevice(EDU, { iommu: 'iommufd' }));
    assert.match(e.hint, /Linux 6\.6/);
    assert.match(e.hint, /CONFIG_VFIO_DEVICE_CDEV/);
    assert.ok(e.message.includes(`/sys/bus/pci/devices/${EDU}/vfio-dev/`), 'names the sysfs folder');
  } else {
    // Both flows work here, one after the other.
    for (const flow of ['container', 'iommufd'] as const) {
      const d = openKernelBackend(EDU, { iommu: flow });
      try {
        assert.equal(d.flow, flow);
      } finally {
        d.close();
      }
    }
  }
  assert.equal(openGroupCount(), 0);
});
