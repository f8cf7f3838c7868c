// The broker on the host, in front of our edu model's vfio-user server (the
// broker's `--upstream` mode): the same BrokeredDevice and policy the guest
// tests run against QEMU's real edu through /dev/vfio, here with a device
// whose other side we can see. The broker runs as `vfio-ts broker` in a child
// process (the client's region accesses are synchronous and must not share
// its event loop).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Device } from '../../src/client/device.js';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { EduDriver } from '../../src/drivers/edu/index.js';
import { regs } from '../../src/pci/index.js';
import { eduDriverSuite } from '../edu/edu-driver.suite.js';
import { serveEduInChild, type ChildServer } from '../edu/serve-child.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';

const uid = process.getuid!();
let dir: string;
let edu: ChildServer | undefined;
let broker: BrokerProcess | undefined;
let socket: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-ts-broker-'));
  edu = await serveEduInChild();
  socket = join(dir, 'broker.sock');
  broker = await startBroker(['--upstream', edu.path, '--socket', socket, '--allow-uid', String(uid), '--grace-ms', '300'], socket);
});
after(async () => {
  await broker?.stop();
  await edu?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until the broker reported `n` releases (the previous owner is cleaned up). */
async function released(n: number): Promise<void> {
  await broker!.waitFor(() => broker!.clientEvents('released').length >= n, `${n} releases`);
}

function withDevice<T>(fn: (d: Device) => T | Promise<T>): Promise<T> {
  const before = broker!.clientEvents('released').length;
  const d = connectVfioUser(socket);
  return (async () => {
    try {
      return await fn(d);
    } finally {
      d.close();
      await released(before + 1);
    }
  })();
}

eduDriverSuite('edu model through the broker', () => connectVfioUser(socket));

test("broker: config space is the framework's view over the device's: BARs virtual, MSI enable only through SET_IRQS", () =>
  withDevice((d) => {
    const cfg = d.config;
    assert.equal(cfg.read16(regs.PCI_VENDOR_ID), 0x1234);
    cfg.write32(regs.PCI_BASE_ADDRESS_0, 0xffffffff);
    assert.equal(cfg.read32(regs.PCI_BASE_ADDRESS_0) >>> 0, 0xfff00000, 'BAR0 sizes as 1 MiB');
    cfg.write32(regs.PCI_BASE_ADDRESS_0, 0xfe000000);
    assert.equal(cfg.read32(regs.PCI_BASE_ADDRESS_0) >>> 0, 0xfe000000, 'relocated in the shadow');
    const edu = EduDriver.attach(d);
    assert.ok(edu.isAlive(), 'BAR access keeps working after the "relocation"');
    const msi = 0x40;
    assert.equal(cfg.read8(msi), regs.PCI_CAP_ID_MSI);
    cfg.write16(msi + regs.PCI_MSI_FLAGS, cfg.read16(msi + regs.PCI_MSI_FLAGS) | regs.PCI_MSI_FLAGS_ENABLE);
    assert.equal(cfg.read16(msi + regs.PCI_MSI_FLAGS) & regs.PCI_MSI_FLAGS_ENABLE, 0, 'a config write cannot enable MSI');
    d.enableInterrupts('msi', 1);
    assert.equal(cfg.read16(msi + regs.PCI_MSI_FLAGS) & regs.PCI_MSI_FLAGS_ENABLE, regs.PCI_MSI_FLAGS_ENABLE, 'SET_IRQS enabled it');
    d.disableInterrupts();
    assert.equal(cfg.read16(msi + regs.PCI_MSI_FLAGS) & regs.PCI_MSI_FLAGS_ENABLE, 0);
  }));

test('broker: one owner at a time (EBUSY), and the next client gets a fresh device', async () => {
  const first = connectVfioUser(socket);
  const rel = broker!.clientEvents('released').length;
  try {
    first.config.write32(regs.PCI_BASE_ADDRESS_0, 0xfe000000);
    assert.throws(
      () => connectVfioUser(socket),
      (e: Error & { code?: string }) => e.code === 'EBUSY',
    );
    await broker!.waitFor(() => broker!.clientEvents('busy').length > 0, 'a busy event');
  } finally {
    first.close();
  }
  await released(rel + 1);
  await withDevice((d) => {
    assert.equal(d.config.read32(regs.PCI_BASE_ADDRESS_0) >>> 0, 0, "the previous owner's BAR programming is gone");
    assert.ok(EduDriver.attach(d).isAlive());
  });
});

test('broker: DMA maps need a descriptor, and a writable map of memory the client cannot write is refused', () =>
  withDevice((d) => {
    const file = join(dir, 'readonly.bin');
    writeFileSync(file, new Uint8Array(8192));
    const fd = openSync(file, 'r');
    try {
      assert.throws(
        () => d.backend.dmaMap({ fd, fdOffset: 0, address: 0n, size: 4096 }, 0x200000n, { read: true, write: true }),
        (e: Error & { code?: string }) => e.code === 'EACCES',
      );
      // Read-only, it is the client's to share.
      d.backend.dmaMap({ fd, fdOffset: 0, address: 0n, size: 4096 }, 0x200000n, { read: true, write: false });
      d.backend.dmaUnmap(0x200000n, 4096);
    } finally {
      closeSync(fd);
    }
  }));

test('broker: a map without a descriptor cannot reach an IOMMU: EINVAL', async () => {
  const rel = broker!.clientEvents('released').length;
  const d = connectVfioUser(socket, { dmaFds: false });
  try {
    assert.throws(
      () => d.allocDma(4096),
      (e: Error & { code?: string }) => e.code === 'EINVAL',
    );
  } finally {
    d.close();
  }
  await released(rel + 1);
});

test('broker: protected config bits: vendor/device and the capability pointer do not move, ROM is read-only', () =>
  withDevice((d) => {
    const cfg = d.config;
    cfg.write16(regs.PCI_VENDOR_ID, 0xdead);
    assert.equal(cfg.read16(regs.PCI_VENDOR_ID), 0x1234);
    const cap = cfg.read8(regs.PCI_CAPABILITY_LIST);
    cfg.write8(regs.PCI_CAPABILITY_LIST, 0x80);
    assert.equal(cfg.read8(regs.PCI_CAPABILITY_LIST), cap);
    assert.throws(
      () => d.region(7).read32(4096),
      (e: Error & { code?: string }) => e.code === 'EINVAL',
      'beyond config space',
    );
  }));

test('broker: a client killed in the middle of DMA; the next client works', async () => {
  const script = fileURLToPath(new URL('./dma-client.child.js', import.meta.url));
  const child = spawn(process.execPath, [script, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes('"running"') && resolve());
    child.once('exit', (code) => reject(new Error(`the DMA client exited (${code}) before it ran`)));
  });
  child.kill('SIGKILL');
  await broker!.waitFor(
    (e) =>
      e.event === 'client' &&
      (e.client as { type: string; pid: number }).type === 'released' &&
      (e.client as { pid: number }).pid === child.pid,
    "the killed client's release",
  );
  await withDevice(async (d) => {
    const e = EduDriver.attach(d);
    const data = new Uint8Array(1024).map((_, i) => i & 0xff);
    assert.deepEqual(await e.roundTrip(data), data);
    assert.equal(await e.factorial(10), 3628800);
  });
});

test('broker: a peer not on the allow-list is refused at accept', async () => {
  const s2 = join(dir, 'closed.sock');
  const edu2 = await serveEduInChild();
  const b2 = await startBroker(['--upstream', edu2.path, '--socket', s2, '--allow-uid', String(uid + 4242)], s2);
  try {
    assert.throws(() => connectVfioUser(s2, { timeoutMs: 3000 }));
    const refused = await b2.waitFor((e) => e.event === 'client' && (e.client as { type: string }).type === 'refused', 'a refusal');
    assert.equal((refused.client as { uid: number }).uid, uid);
  } finally {
    await b2.stop();
    await edu2.close();
  }
});

test('broker: per-client DMA limits (count and bytes)', async () => {
  const s3 = join(dir, 'limits.sock');
  const edu3 = await serveEduInChild();
  const b3 = await startBroker(
    ['--upstream', edu3.path, '--socket', s3, '--allow-uid', String(uid), '--max-dma-maps', '2', '--max-dma-bytes', '16384'],
    s3,
  );
  try {
    const d = connectVfioUser(s3);
    try {
      const a = d.allocDma(4096);
      d.allocDma(4096);
      assert.throws(
        () => d.allocDma(4096),
        (e: Error & { code?: string }) => e.code === 'ENOSPC',
      );
      a.free();
      assert.throws(
        () => d.allocDma(16384),
        (e: Error & { code?: string }) => e.code === 'ENOMEM',
      );
      d.allocDma(8192);
    } finally {
      d.close();
    }
  } finally {
    await b3.stop();
    await edu3.close();
  }
});

test('broker: the device going away reaches the owner as unplug (REQ); after the grace period it is revoked and clients get ENODEV', async () => {
  const edu4 = await serveEduInChild();
  const s4 = join(dir, 'unplug.sock');
  const b4 = await startBroker(['--upstream', edu4.path, '--socket', s4, '--allow-uid', String(uid), '--grace-ms', '200'], s4);
  try {
    const d = connectVfioUser(s4, { unplugGraceMs: 0 });
    const unplug = new Promise((resolve) => d.once('unplug', resolve));
    const closed = new Promise((resolve) => d.once('close', resolve));
    await edu4.close(); // the device behind the broker disappears
    assert.equal(((await unplug) as { reason: string }).reason, 'request');
    await b4.waitFor((e) => e.event === 'revoked', 'the revocation');
    await closed; // the broker closed the connection
    assert.throws(
      () => connectVfioUser(s4),
      (e: Error & { code?: string }) => e.code === 'ENODEV',
    );
  } finally {
    await b4.stop();
  }
});
