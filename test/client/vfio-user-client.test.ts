// The Driver API over vfio-user: our client against our server (in a child
// process, since region access is synchronous), with the test device model of
// test/server/fixtures.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectVfioUser, type VfioUserBackend } from '../../src/client/vfio-user/backend.js';
import type { Device } from '../../src/client/device.js';
import { DEVICE_ID, DMA_DONE, DMA_IRQ, DMA_START, DMA_SYNC, DMA_WAIT, REG, TestDevice } from '../server/fixtures/test-device.js';
import { VfioUserServer } from '../../src/server/index.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';

const FIXTURE = 'test/server/fixtures/test-device.js';
const CMD_MEMORY = 0x2;
const CMD_MASTER = 0x4;

function enable(dev: Device): void {
  dev.config.write16(4, dev.config.read16(4) | CMD_MEMORY | CMD_MASTER);
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('vfio-user client against the server', () => {
  let srv: ChildServer;
  let dev: Device;

  before(async () => {
    srv = await startChildServer(FIXTURE, 'TestDevice', { server: { maxDataXferSize: 8192 } });
    dev = connectVfioUser(srv.path);
  });
  after(async () => {
    dev?.close();
    await srv?.stop();
  });

  test('negotiates and reports device, region and IRQ info', () => {
    assert.equal(dev.info.pci, true);
    assert.equal(dev.info.reset, true);
    assert.equal(dev.info.numRegions, 9);
    assert.equal(dev.info.numIrqs, 5);
    assert.equal(dev.regionInfo(0).size, 4096);
    assert.equal(dev.regionInfo(2).size, 16384);
    assert.deepEqual(dev.regionInfo(2).mmapAreas, [{ offset: 4096, size: 8192 }]);
    assert.equal(dev.regionInfo(7).size, 4096, 'PCIe: extended config space');
    assert.equal(dev.irqInfo(2).count, 8);
    assert.equal(dev.irqInfo(1).count, 4);
    const backend = dev.backend as VfioUserBackend;
    assert.equal(backend.session.maxSendDataXfer, 8192);
  });

  test('config space reads through the server show the declared IDs', () => {
    assert.equal(dev.config.read16(0), 0x1de5);
    assert.equal(dev.config.read16(2), 0x7e57);
    // BAR sizing through the engine: all ones, read back the size mask.
    const saved = dev.config.read32(0x10);
    dev.config.write32(0x10, 0xffffffff);
    assert.equal(dev.config.read32(0x10), ~(4096 - 1) >>> 0);
    dev.config.write32(0x10, saved);
  });

  test('BAR access fails with EIO while memory decode is off, works once on', () => {
    dev.config.write16(4, 0);
    assert.throws(() => dev.bar(0).read32(REG.ID), { code: 'EIO' });
    enable(dev);
    assert.equal(dev.bar(0).read32(REG.ID), DEVICE_ID);
    dev.bar(0).write32(REG.SCRATCH, 0xcafef00d);
    assert.equal(dev.bar(0).read32(REG.SCRATCH), 0xcafef00d);
    dev.bar(0).write64(0x100, 0x0123456789abcdefn);
    assert.equal(dev.bar(0).read64(0x100), 0x0123456789abcdefn);
    assert.equal(dev.bar(0).read8(0x101), 0xcd);
    assert.equal(dev.bar(0).read16(0x102), 0x89ab);
  });

  test('an error from the model reaches the driver as a typed error', () => {
    enable(dev);
    assert.throws(() => dev.bar(0).read32(REG.BOOM), { code: 'EIO' });
    assert.throws(() => dev.bar(0).read32(REG.EPERM), { code: 'EPERM' });
    // and the connection is still good
    assert.equal(dev.bar(0).read32(REG.ID), DEVICE_ID);
  });

  test('out-of-range accesses are refused before they reach the wire', () => {
    assert.throws(() => dev.bar(0).read32(4096), { code: 'EINVAL' });
    assert.throws(() => dev.config.read32(-4), { code: 'EINVAL' });
    assert.throws(() => dev.bar(1), { code: 'EINVAL' });
  });

  test('large reads and writes are split at the negotiated transfer size', () => {
    enable(dev);
    const data = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
    dev.bar(0).write(0x100, data);
    const back = new Uint8Array(3000);
    dev.bar(0).read(0x100, back);
    assert.deepEqual(back, data);
    // ROM is 2 KiB; config 256 bytes: read whole regions
    const rom = new Uint8Array(2048);
    dev.region(6).read(0, rom);
    assert.equal(Buffer.from(rom.subarray(0, 11)).toString(), 'VFIO-TS ROM');
  });

  test('mappable BAR memory is shared: driver writes reach the model, model writes reach the driver', () => {
    enable(dev);
    const bar2 = dev.bar(2);
    assert.equal(bar2.mapped, true);
    bar2.write32(0x1000, 0x600dcafe);
    assert.equal(dev.bar(0).read32(REG.MEM_PEEK), 0x600dcafe);
    dev.bar(0).write32(REG.MEM_POKE, 0x12345678);
    assert.equal(bar2.read32(0x1004), 0x12345678);
    // outside the sparse area: messages to the handler
    bar2.write32(0, 0xa5a5a5a5);
    assert.equal(bar2.read32(0), 0xa5a5a5a5);
  });

  test('DMA through fd-backed maps: the device copies between two buffers', () => {
    enable(dev);
    const a = dev.allocDma(8192);
    const b = dev.allocDma(8192);
    for (let i = 0; i < a.size; i++) a.bytes[i] = (i * 13) & 0xff;
    const bar0 = dev.bar(0);
    bar0.write64(REG.DMA_SRC, a.iova);
    bar0.write64(REG.DMA_DST, b.iova);
    bar0.write32(REG.DMA_LEN, 8192);
    bar0.write32(REG.DMA_CMD, DMA_SYNC);
    assert.equal(bar0.read32(REG.DMA_STATUS), DMA_DONE);
    assert.deepEqual(b.bytes, a.bytes);
    a.free();
    b.free();
  });

  test('MSI-X: a vector fires as an event; masked vectors are held pending', async () => {
    enable(dev);
    dev.enableInterrupts('msix', 8);
    const bar0 = dev.bar(0);
    const got = dev.waitInterrupt(5, 2000);
    bar0.write32(REG.MSIX, 5);
    assert.deepEqual(await got, { kind: 'msix', vector: 5, count: 1 });
    dev.disableInterrupts();
    assert.equal(dev.interruptMode, null);
  });

  test('MSI: enabling switches modes; a DMA completion interrupt arrives', async () => {
    enable(dev);
    dev.enableInterrupts('msi', 4);
    const a = dev.allocDma(4096);
    const b = dev.allocDma(4096);
    a.bytes.fill(0x3c);
    const bar0 = dev.bar(0);
    bar0.write32(REG.IRQ_VEC, 2);
    bar0.write64(REG.DMA_SRC, a.iova);
    bar0.write64(REG.DMA_DST, b.iova);
    bar0.write32(REG.DMA_LEN, 4096);
    const got = dev.waitInterrupt(2, 2000);
    bar0.write32(REG.DMA_CMD, DMA_START | DMA_IRQ);
    assert.equal((await got).vector, 2);
    assert.equal(bar0.read32(REG.DMA_STATUS), DMA_DONE);
    assert.equal(b.bytes[4095], 0x3c);
    dev.disableInterrupts();
    a.free();
    b.free();
  });

  test('INTx is level-triggered and auto-masked until the driver unmasks it', async () => {
    enable(dev);
    dev.enableInterrupts('intx');
    const bar0 = dev.bar(0);
    bar0.write32(REG.INTX, 1);
    assert.equal(dev.pollInterrupt(0, 2000), 1);
    // still asserted but masked: nothing more until unmask
    assert.equal(dev.pollInterrupt(0, 50), 0);
    dev.unmaskIntx();
    assert.equal(dev.pollInterrupt(0, 2000), 1, 'still asserted: fires again on unmask');
    bar0.write32(REG.INTX, 0);
    dev.unmaskIntx();
    assert.equal(dev.pollInterrupt(0, 50), 0);
    dev.disableInterrupts();
  });

  test('reset: the device model is reset and BAR programming is kept', () => {
    enable(dev);
    const bar0 = dev.config.read32(0x10);
    const before = dev.bar(0).read32(REG.RESETS);
    dev.reset();
    assert.equal(dev.config.read32(0x10), bar0);
    enable(dev);
    assert.equal(dev.bar(0).read32(REG.RESETS), before + 1);
  });

  test('low power is a clear refusal over vfio-user (no such operation in the protocol)', () => {
    assert.throws(() => dev.suspend(), { code: 'ENOTSUP' });
    assert.equal(dev.suspended, false);
    assert.throws(() => dev.resume(), { code: 'EALREADY' });
  });

  test('REQ from the device reaches the driver as one unplug event with a deadline', async () => {
    enable(dev);
    const events: { reason: string; deadline: number }[] = [];
    const got = new Promise((resolve) => dev.once('unplug', resolve));
    dev.on('unplug', (e) => events.push(e));
    dev.bar(0).write32(REG.REQ, 1);
    const e = (await got) as { reason: string; deadline: number };
    assert.equal(e.reason, 'request');
    assert.ok(e.deadline > Date.now() && e.deadline <= Date.now() + 10_000);
    dev.bar(0).write32(REG.REQ, 1); // signalled again, as the kernel does: still one event
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(events.length, 1);
    assert.equal(dev.unplugging?.reason, 'request');
  });
});

describe('DMA without fds: the server reaches client memory by DMA_READ/DMA_WRITE messages', () => {
  test('served while the client waits for its own reply, and while idle', async () => {
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    const dev = connectVfioUser(srv.path, { dmaFds: false });
    try {
      enable(dev);
      const a = dev.allocDma(3 * 4096);
      const b = dev.allocDma(3 * 4096);
      for (let i = 0; i < a.size; i++) a.bytes[i] = (i * 31 + 7) & 0xff;
      const bar0 = dev.bar(0);
      bar0.write64(REG.DMA_SRC, a.iova);
      bar0.write64(REG.DMA_DST, b.iova);
      bar0.write32(REG.DMA_LEN, a.size);
      // DMA_WAIT: the REGION_WRITE's reply waits for the copy, so the
      // server's DMA_READ/DMA_WRITE arrive while our request is in flight.
      bar0.write32(REG.DMA_CMD, DMA_START | DMA_WAIT);
      assert.equal(bar0.read32(REG.DMA_STATUS), DMA_DONE);
      assert.deepEqual(b.bytes, a.bytes);
      // Asynchronous copy: served from the event loop while we wait here.
      b.bytes.fill(0);
      bar0.write32(REG.DMA_CMD, DMA_START);
      for (let i = 0; i < 200 && bar0.read32(REG.DMA_STATUS) !== DMA_DONE; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(bar0.read32(REG.DMA_STATUS), DMA_DONE);
      assert.deepEqual(b.bytes, a.bytes);
    } finally {
      dev.close();
      await srv.stop();
    }
  });
});

describe('server requests that arrive behind a reply', () => {
  test('are served from the event loop while the driver only waits for an interrupt', async () => {
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    const dev = connectVfioUser(srv.path, { dmaFds: false });
    try {
      enable(dev);
      dev.enableInterrupts('msix', 8);
      const a = dev.allocDma(4096);
      const b = dev.allocDma(4096);
      a.bytes.fill(0x77);
      const bar0 = dev.bar(0);
      bar0.write32(REG.IRQ_VEC, 1);
      bar0.write64(REG.DMA_SRC, a.iova);
      bar0.write64(REG.DMA_DST, b.iova);
      bar0.write32(REG.DMA_LEN, 4096);
      for (let round = 0; round < 20; round++) {
        b.bytes.fill(0);
        const got = dev.waitInterrupt(1, 3000);
        // The server's DMA_READ often arrives in the same read as this
        // write's reply; then nothing but the event loop is left to serve it.
        bar0.write32(REG.DMA_CMD, DMA_START | DMA_IRQ);
        await got;
        assert.equal(b.bytes[4095], 0x77, `round ${round}`);
      }
    } finally {
      dev.close();
      await srv.stop();
    }
  });
});

describe('unplug grace period', () => {
  test('a driver that does not close after an unplug request is closed at the deadline', async () => {
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    const dev = connectVfioUser(srv.path, { unplugGraceMs: 200 });
    try {
      enable(dev);
      const closed = new Promise((resolve) => dev.once('close', resolve));
      dev.bar(0).write32(REG.REQ, 1);
      const t0 = Date.now();
      await closed;
      assert.ok(Date.now() - t0 >= 150, 'not before the deadline');
      assert.equal(dev.closed, true);
      await srv.waitEvent('released');
    } finally {
      dev.close();
      await srv.stop();
    }
  });
});

describe('ownership and failures', () => {
  test('a second client is refused with EBUSY; after the first leaves the next one works', async () => {
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    try {
      const first = connectVfioUser(srv.path);
      enable(first);
      first.bar(0).write32(REG.SCRATCH, 0x1234);
      assert.throws(() => connectVfioUser(srv.path), { code: 'EBUSY' });
      first.close();
      await srv.waitEvent('released');
      const next = connectVfioUser(srv.path);
      enable(next);
      assert.equal(next.bar(0).read32(REG.SCRATCH), 0, 'the next owner sees a reset device');
      next.close();
    } finally {
      await srv.stop();
    }
  });

  test('the server dying mid-session: the next access fails cleanly and close is reported', async () => {
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    const dev = connectVfioUser(srv.path, { timeoutMs: 3000 });
    const closed = new Promise<Error | undefined>((resolve) => dev.once('close', resolve));
    enable(dev);
    srv.child.kill('SIGKILL');
    await new Promise((r) => srv.child.once('exit', r));
    assert.throws(
      () => dev.bar(0).read32(REG.ID),
      (err: Error & { code?: string }) => ['ECONNRESET', 'EPIPE', 'ENODEV', 'ENOTCONN'].includes(err.code!),
    );
    const reason = await closed;
    assert.ok(reason instanceof Error);
    assert.equal(dev.closed, true);
    await srv.stop();
  });

  test('a server that never answers times out with ETIMEDOUT instead of hanging', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-mute-'));
    const path = join(dir, 'mute.sock');
    const mute = createServer(() => {}).listen(path);
    await new Promise((r) => mute.once('listening', r));
    try {
      // The handshake blocks this thread: run it where the server's loop can accept meanwhile.
      const { Worker } = await import('node:worker_threads');
      const code = `
        const { connectVfioUser } = await import(${JSON.stringify(new URL('../../src/client/vfio-user/backend.js', import.meta.url).href)});
        const { parentPort } = await import('node:worker_threads');
        try { connectVfioUser(${JSON.stringify(path)}, { timeoutMs: 300 }); parentPort.postMessage('connected'); }
        catch (e) { parentPort.postMessage(e.code); }`;
      const w = new Worker(code, { eval: true, type: 'module' } as never);
      const msg = await new Promise((r) => w.once('message', r));
      assert.equal(msg, 'ETIMEDOUT');
      await w.terminate();
    } finally {
      mute.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('connecting to nothing, or to something that is not a socket, says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-none-'));
    try {
      assert.throws(
        () => connectVfioUser(join(dir, 'absent.sock')),
        (e: Error & { code?: string }) => e.code === 'ENOENT' && /server running/.test(e.message),
      );
      writeFileSync(join(dir, 'file'), 'x');
      assert.throws(() => connectVfioUser(join(dir, 'file')), { code: 'ECONNREFUSED' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('closing the device releases every fd it held', async () => {
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    try {
      const before = fdCount();
      const dev = connectVfioUser(srv.path);
      enable(dev);
      dev.bar(2).read32(0x1000);
      dev.allocDma(4096);
      dev.enableInterrupts('msix', 4);
      assert.ok(fdCount() > before);
      dev.close();
      assert.equal(fdCount(), before);
    } finally {
      await srv.stop();
    }
  });
});

describe('a server on the same thread (issue 15)', () => {
  const refused = (e: Error & { code?: string }): boolean =>
    e.code === 'EDEADLK' && /on this thread/.test(e.message) && /worker thread/.test(e.message) && /child process/.test(e.message);

  test('connecting to it fails at once with EDEADLK, by its path, a relative path or a symlink', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-here-'));
    const path = join(dir, 'here.sock');
    const server = VfioUserServer.listen(path, new TestDevice());
    try {
      // Without the check each of these would block until ETIMEDOUT: the server needs the event loop the client blocks.
      assert.throws(() => connectVfioUser(path), refused);
      assert.throws(() => connectVfioUser(relative(process.cwd(), path)), refused);
      symlinkSync(path, join(dir, 'link.sock'));
      assert.throws(() => connectVfioUser(join(dir, 'link.sock')), refused);
    } finally {
      await server.close();
    }
    // Closed: the registration is gone with it, and the path is simply absent.
    assert.throws(() => connectVfioUser(path), { code: 'ENOENT' });
    rmSync(dir, { recursive: true, force: true });
  });

  test('a server in a child process is still reached while one of this thread listens elsewhere', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-here-'));
    const local = VfioUserServer.listen(join(dir, 'local.sock'), new TestDevice());
    const srv = await startChildServer(FIXTURE, 'TestDevice');
    try {
      const dev = connectVfioUser(srv.path);
      assert.equal(dev.config.read16(0), 0x1de5);
      dev.close();
    } finally {
      await srv.stop();
      await local.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
