// serveInWorker: a device model served from a worker thread while a driver on
// this thread does real BAR, DMA and interrupt work on it; the errors it
// rejects with; and that close() leaves no thread, no socket file, and nothing
// that keeps a process alive.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { eduFactorial } from '../../src/devices/edu.js';
import { EduDriver } from '../../src/drivers/edu/index.js';
import { serveInWorker, type ClientEvent, WorkerServeError } from '../../src/server/index.js';

const MODELS = new URL('./fixtures/worker-models.js', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sock = (): string => join(dir, `s${n++}.sock`);
const T = { timeout: 30_000 };
const START = { startTimeoutMs: 15_000 };

describe('serveInWorker', () => {
  test('edu in a worker, driven from this thread: registers, factorial by MSI, DMA round trip', T, async () => {
    const socket = sock();
    const served = await serveInWorker(MODELS, { socket, ...START });
    const events: ClientEvent['type'][] = [];
    served.on('client', (e) => events.push(e.type));
    try {
      assert.ok(existsSync(socket), 'the worker listens on the socket');
      assert.notEqual(served.threadId, 0);
      const edu = EduDriver.attach(connectVfioUser(socket));
      try {
        assert.deepEqual(edu.version(), { major: 1, minor: 0 });
        assert.ok(edu.isAlive(0x12345678));
        edu.enableInterrupts('msi');
        assert.equal(await edu.factorialByInterrupt(10, { timeoutMs: 10_000 }), eduFactorial(10));
        const data = new Uint8Array(256).map((_, i) => (i * 7 + 3) & 0xff);
        assert.deepEqual(await edu.roundTrip(data, { interrupt: true, timeoutMs: 10_000 }), data);
      } finally {
        edu.close();
      }
    } finally {
      await served.close();
    }
    assert.ok(events.includes('owner'), `client events reach this thread: ${events.join(',')}`);
    assert.equal(existsSync(socket), false, 'close() removes the socket file');
  });

  test('a named class export, built with modelOptions, and an async factory', T, async () => {
    for (const [module, exp] of [
      [new URL('../../src/devices/edu.js', import.meta.url), 'EduModel'],
      [MODELS, 'asyncEdu'],
    ] as const) {
      const socket = sock();
      const served = await serveInWorker(module, { socket, export: exp, modelOptions: { completion: 'sync' }, ...START });
      try {
        const edu = EduDriver.attach(connectVfioUser(socket));
        try {
          assert.equal(await edu.factorial(5, { timeoutMs: 10_000 }), 120, exp);
        } finally {
          edu.close();
        }
      } finally {
        await served.close();
      }
    }
  });

  test('a plain DeviceModel object export', T, async () => {
    const socket = sock();
    const served = await serveInWorker(MODELS, { socket, export: 'plain', ...START });
    try {
      const dev = connectVfioUser(socket);
      try {
        dev.config.write16(4, dev.config.read16(4) | 0x2);
        assert.equal(dev.bar(0).read32(0x10), 0x42424242);
      } finally {
        dev.close();
      }
    } finally {
      await served.close();
    }
  });

  test('close() ends the thread: a program that closes exits by itself', T, () => {
    const server = new URL('../../src/server/index.js', import.meta.url).href;
    const socket = sock();
    const program = `
      import { serveInWorker } from ${JSON.stringify(server)};
      const served = await serveInWorker(${JSON.stringify(MODELS.href)}, { socket: ${JSON.stringify(socket)} });
      served.on('close', () => console.log('closed'));
      await served.close();
      console.log('done');`;
    // No process.exit: the child ends only if nothing (no thread, no handle) is left.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, `the child had to be killed (still alive): ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['closed', 'done']);
    assert.equal(existsSync(socket), false);
  });

  test('close() is idempotent and a closed socket refuses clients', T, async () => {
    const socket = sock();
    const served = await serveInWorker(MODELS, { socket, ...START });
    await Promise.all([served.close(), served.close()]);
    await served.close();
    assert.throws(() => connectVfioUser(socket, { timeoutMs: 2000 }), { code: 'ENOENT' });
  });

  const rejects = async (
    module: URL | string,
    options: { export?: string; socket?: string },
    reason: string,
    code: string,
    message: RegExp,
  ): Promise<void> => {
    await assert.rejects(
      serveInWorker(module, { socket: options.socket ?? sock(), ...START, ...(options.export ? { export: options.export } : {}) }),
      (err: unknown) => {
        assert.ok(err instanceof WorkerServeError, String(err));
        assert.equal(err.reason, reason);
        assert.equal(err.code, code);
        assert.match(err.message, message);
        return true;
      },
    );
  };

  test('a module that does not exist: module-not-found, ENOENT', T, async () => {
    await rejects(
      new URL('./fixtures/no-such-model.js', import.meta.url),
      {},
      'module-not-found',
      'ENOENT',
      /no-such-model\.js does not exist/,
    );
    await rejects('vfio-ts-no-such-package/model', {}, 'module-not-found', 'ENOENT', /vfio-ts-no-such-package/);
  });

  test('a module that exports no model: no-model, EINVAL', T, async () => {
    await rejects(MODELS, { export: 'missing' }, 'no-model', 'EINVAL', /'missing'.*does not exist \(its exports: .*plain/);
    await rejects(MODELS, { export: 'notAModel' }, 'no-model', 'EINVAL', /no DeviceModel nor factory/);
    await rejects(MODELS, { export: 'returnsNothing' }, 'no-model', 'EINVAL', /factory that returned no DeviceModel/);
  });

  test('a factory that throws: model-failed with its code', T, async () => {
    await rejects(MODELS, { export: 'throws' }, 'model-failed', 'ENOSPC', /no backing store here/);
  });

  test('a socket in use: listen-failed, EADDRINUSE; the first server keeps serving', T, async () => {
    const socket = sock();
    const served = await serveInWorker(MODELS, { socket, ...START });
    try {
      await rejects(MODELS, { socket }, 'listen-failed', 'EADDRINUSE', new RegExp(`serving ${socket}`));
      const edu = EduDriver.attach(connectVfioUser(socket));
      assert.ok(edu.isAlive());
      edu.close();
    } finally {
      await served.close();
    }
  });

  test("a worker that dies after listening emits 'error' (worker-exited, with the cause), then 'close'", T, async () => {
    const served = await serveInWorker(MODELS, { socket: sock(), export: 'crashesLater', ...START });
    const events: string[] = [];
    served.on('close', () => events.push('close'));
    const [err] = (await Promise.race([
      once(served, 'error'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no error event within 10 s')), 10_000).unref()),
    ])) as [WorkerServeError];
    assert.ok(err instanceof WorkerServeError);
    assert.equal(err.reason, 'worker-exited');
    assert.match(err.message, /ended unexpectedly: the model crashed/);
    assert.deepEqual(events, ['close'], "'close' follows at once");
    await served.close(); // idempotent after the thread is gone
  });

  test('a missing socket option is refused before any thread starts', T, async () => {
    await assert.rejects(serveInWorker(MODELS, { socket: '' }), { code: 'EINVAL', reason: 'listen-failed' });
  });
});
