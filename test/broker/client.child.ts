// A broker client in its own process, for the guest's broker tests
// (test/guest/root-broker.test.ts), which start the broker as root and run
// this as the unprivileged user: argv = scenario, socket. It prints JSON lines
// ({step: ...}) as it goes and exits 0 when its checks passed; a failed check
// exits 1 with the error on stderr.
//
//   nvme      bring up QEMU's nvme through the broker: Identify, host-written
//             blocks, write + read back, MSI-X completions
//   attacks   what a client must not be able to do (each refused cleanly)
//   hold      own the device until the broker takes it away: prints
//             'holding', then 'unplug' (REQ) and 'closed' (revoked)
//   refused   try to connect; prints the refusal's code
//   mapped    (broker --mmap) the edu driver through a directly mapped BAR0
//   keep-mapping  (broker --mmap) keeps a mapping of BAR0 after the broker
//             took the device back: reading it must fault (SIGBUS)

import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { EduDriver } from '../../src/drivers/edu/index.js';
import { NvmeDriver } from '../../src/drivers/nvme/index.js';
import { regs } from '../../src/pci/index.js';
import { diskBlock, DISK_BLOCK_SIZE } from '../../vm/disk.js';

const [scenario, socket] = process.argv.slice(2) as [string, string];

function say(step: string, more: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ step, ...more })}\n`);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? 'no code';
  }
  return undefined;
}

async function nvme(): Promise<void> {
  const dev = connectVfioUser(socket);
  try {
    const c = await NvmeDriver.open(dev, { interrupts: 'msix' });
    try {
      assert.equal(c.identity.vendorId, 0x1b36);
      assert.equal(c.interruptKind, 'msix');
      const ns = await c.namespace(1);
      const got = await ns.read(100, 24);
      for (let i = 0; i < 24; i++) {
        assert.ok(Buffer.from(got.subarray(i * DISK_BLOCK_SIZE, (i + 1) * DISK_BLOCK_SIZE)).equals(diskBlock(100 + i)), `block ${100 + i}`);
      }
      const data = new Uint8Array(16 * DISK_BLOCK_SIZE).map((_, i) => (i * 13 + 5) & 0xff);
      await ns.write(6600, data);
      assert.deepEqual(await ns.read(6600, 16), data);
      say('nvme-ok', { model: c.identity.model, vectors: c.vectors, mapped: dev.bar(0).mapped });
    } finally {
      await c.shutdown().catch(() => c.abort());
    }
  } finally {
    dev.close();
  }
}

async function attacks(): Promise<void> {
  const dev = connectVfioUser(socket);
  try {
    // A second client while this one owns the device.
    assert.equal(
      code(() => connectVfioUser(socket)),
      'EBUSY',
    );
    say('second-client-refused');

    // DMA: the broker maps only memory the client can share, as the client may use it.
    const fd = openSync(process.execPath, 'r'); // the node binary: readable, not writable, by this user
    try {
      assert.equal(
        code(() => dev.backend.dmaMap({ fd, fdOffset: 0, address: 0n, size: 4096 }, 0x100000n, { read: true, write: true })),
        'EACCES',
      );
    } finally {
      closeSync(fd);
    }
    say('dma-writable-readonly-file-refused');

    // Config space: identity, BARs and MSI enable are not the client's to change.
    const cfg = dev.config;
    cfg.write16(regs.PCI_VENDOR_ID, 0xdead);
    assert.equal(cfg.read16(regs.PCI_VENDOR_ID), 0x1234);
    cfg.write32(regs.PCI_BASE_ADDRESS_0, 0xffffffff);
    assert.equal(cfg.read32(regs.PCI_BASE_ADDRESS_0) >>> 0, 0xfff00000, 'BAR0 sizing is virtual');
    cfg.write32(regs.PCI_BASE_ADDRESS_0, 0x12300000);
    const msi = cfg.read8(regs.PCI_CAPABILITY_LIST);
    assert.equal(cfg.read8(msi), regs.PCI_CAP_ID_MSI);
    cfg.write16(msi + regs.PCI_MSI_FLAGS, cfg.read16(msi + regs.PCI_MSI_FLAGS) | regs.PCI_MSI_FLAGS_ENABLE);
    assert.equal(cfg.read16(msi + regs.PCI_MSI_FLAGS) & regs.PCI_MSI_FLAGS_ENABLE, 0, 'MSI enable is not a config write');
    assert.equal(
      code(() => dev.region(7).read32(dev.regionInfo(7).size)),
      'EINVAL',
    );
    // The device still works, through the "relocated" BAR.
    const edu = EduDriver.attach(dev);
    assert.ok(edu.isAlive());
    edu.enableInterrupts('msi');
    assert.equal(await edu.factorialByInterrupt(8), 40320);
    const data = new Uint8Array(1000).map((_, i) => (i * 3) & 0xff);
    assert.deepEqual(await edu.roundTrip(data), data);
    say('config-protected');
  } finally {
    dev.close();
  }
}

async function fdless(): Promise<void> {
  const dev = connectVfioUser(socket, { dmaFds: false });
  try {
    assert.equal(
      code(() => dev.allocDma(4096)),
      'EINVAL',
    );
    say('dma-without-fd-refused');
  } finally {
    dev.close();
  }
}

async function hold(): Promise<void> {
  const dev = connectVfioUser(socket, { unplugGraceMs: 0 });
  const edu = EduDriver.attach(dev);
  assert.ok(edu.isAlive());
  dev.once('unplug', (e) => say('unplug', { reason: e.reason }));
  const closed = new Promise((resolve) => dev.once('close', resolve));
  const alive = setInterval(() => {}, 1000); // the Device's watchers do not keep a process alive
  say('holding');
  await closed;
  clearInterval(alive);
  say('closed');
}

/** Through a broker started with --mmap: BAR0 is mapped, the driver works through the mapping. */
async function mapped(): Promise<void> {
  const dev = connectVfioUser(socket);
  try {
    assert.ok(dev.bar(0).mapped, 'BAR0 is mapped directly');
    const edu = EduDriver.attach(dev);
    assert.ok(edu.isAlive());
    edu.enableInterrupts('msi');
    assert.equal(await edu.factorialByInterrupt(9), 362880);
    const data = new Uint8Array(2000).map((_, i) => (i * 5) & 0xff);
    assert.deepEqual(await edu.roundTrip(data), data);
    say('mapped-ok');
  } finally {
    dev.close();
  }
}

/** Keeps its own mapping of BAR0 past the end of its connection: the broker must have revoked it (SIGBUS). */
async function keepMapping(): Promise<void> {
  const dev = connectVfioUser(socket, { unplugGraceMs: 0 });
  const span = dev.backend.regionMap(0, 0, 4096, false);
  const u32 = new Uint32Array(span.buffer);
  assert.equal(u32[0], 0x010000ed, 'edu identification through the direct mapping');
  const closed = new Promise((resolve) => dev.once('close', resolve));
  const alive = setInterval(() => {}, 1000);
  say('holding');
  await closed;
  clearInterval(alive);
  say('closed');
  const v = u32[0]; // must fault: the mapping was revoked
  say('read-after-revoke', { value: v });
  process.exit(3);
}

function refused(): void {
  say('refused', { code: code(() => connectVfioUser(socket, { timeoutMs: 5000 }).close()) ?? 'connected' });
}

const scenarios: Record<string, () => Promise<void> | void> = { nvme, attacks, fdless, hold, refused, mapped, 'keep-mapping': keepMapping };
const run = scenarios[scenario];
if (!run) {
  process.stderr.write(`unknown scenario ${scenario}\n`);
  process.exit(2);
}
try {
  await run();
  process.exit(0);
} catch (err) {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
