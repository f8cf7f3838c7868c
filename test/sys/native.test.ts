// The addon itself: it loads from the compiled tree, every failing call throws
// a SysError (in workers too), wrong types throw TypeError, out-of-range values
// RangeError, and no garbage input crashes the process.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SysError } from '../../src/errors.js';
import { addonPath, native } from '../../src/sys/native.js';
import { SYS_URL, ERRORS_URL } from './helpers.js';

test('the addon is found under build/Release from the compiled module', () => {
  const path = addonPath();
  assert.ok(path.endsWith('build/Release/vfio_ts.node'), path);
  assert.ok(existsSync(path));
});

test('a failing system call throws SysError with syscall, errno and code', () => {
  assert.throws(
    () => native.close(-1),
    (err: unknown) => {
      assert.ok(err instanceof SysError);
      assert.equal(err.code, 'EBADF');
      assert.equal(err.errno, 9);
      assert.equal(err.syscall, 'close');
      assert.match(err.message, /close failed: EBADF/);
      return true;
    },
  );
});

test('the failing path is reported as detail', () => {
  assert.throws(
    () => native.open('/nonexistent/vfio-ts', 0),
    (err: unknown) => {
      assert.ok(err instanceof SysError);
      assert.equal(err.code, 'ENOENT');
      assert.match(err.message, /\/nonexistent\/vfio-ts/);
      return true;
    },
  );
});

test('wrong argument types throw TypeError', () => {
  const bad: unknown[] = ['3', null, undefined, {}, 3n, true];
  for (const fd of bad) {
    assert.throws(() => (native.close as (fd: unknown) => void)(fd), TypeError, `close(${String(fd)})`);
  }
  assert.throws(() => native.pread(0, 'abc' as never, 0, 1, 0), TypeError);
  assert.throws(() => native.sendmsg(0, new Uint8Array(1), 0, 1, 'fds' as never), TypeError);
  assert.throws(() => native.recvmsg(0, new Uint8Array(1), 0, 1, new Uint32Array(2) as never), TypeError);
  assert.throws(() => native.watcherCreate(0, 'cb' as never), TypeError);
  assert.throws(() => native.watcherStart({} as never, 1), TypeError);
  assert.throws(() => native.munmap(new ArrayBuffer(8)), TypeError);
  assert.throws(() => native.setErrorFactory(42 as never), TypeError);
});

test('out-of-range values throw RangeError', () => {
  const buf = new Uint8Array(8);
  assert.throws(() => native.pread(0, buf, 9, undefined, 0), RangeError);
  assert.throws(() => native.pread(0, buf, 4, 5, 0), RangeError);
  assert.throws(() => native.pread(0, buf, -1, 1, 0), RangeError);
  assert.throws(() => native.pread(0, buf, 0, 1, -1), RangeError);
  assert.throws(() => native.pread(0, buf, 0.5, 1, 0), RangeError);
  assert.throws(() => native.pread(0, buf, 0, 1, 2n ** 63n), RangeError);
  assert.throws(() => native.close(2 ** 31), RangeError);
  assert.throws(() => native.close(Number.NaN), RangeError);
  assert.throws(() => native.poll(0, 1, -2), RangeError);
  assert.throws(() => native.sendmsg(0, buf, 0, 1, new Array(254).fill(0)), RangeError);
  assert.throws(() => native.eventfdWrite(0, 2n ** 64n), RangeError);
  assert.throws(() => native.eventfdWrite(0, -1n), RangeError);
});

test('garbage input never crashes the process', () => {
  const values: unknown[] = [
    -1,
    999999,
    2 ** 40,
    1.5,
    Number.NaN,
    'x',
    null,
    undefined,
    {},
    [],
    7n,
    -7n,
    new Uint8Array(0),
    new ArrayBuffer(3),
    new DataView(new ArrayBuffer(2)),
    () => 1,
    Symbol('s'),
  ];
  // Functions taking only fds, numbers and buffers: paths are left out so
  // that nothing is created in the working directory.
  const fns = [
    'close',
    'dup',
    'pread',
    'pwrite',
    'ioctl',
    'poll',
    'ftruncate',
    'fstatSize',
    'setNonblocking',
    'unixAccept',
    'sendmsg',
    'recvmsg',
    'sendAll',
    'recvSync',
    'transact',
    'peerCred',
    'shutdown',
    'eventfdWrite',
    'eventfdRead',
    'mmap',
    'munmap',
    'addressOf',
    'watcherStart',
    'watcherStop',
    'watcherClose',
    'watcherRef',
  ] as const;
  let calls = 0;
  for (const name of fns) {
    const fn = native[name] as (...args: unknown[]) => unknown;
    for (const a of values) {
      for (const b of values) {
        // fds stay invalid (-1, 999999, non-numbers) so nothing real is touched.
        const fd = typeof a === 'number' && a >= 0 && a < 999999 ? -1 : a;
        try {
          fn(fd, b, b, b, b, b, b, b, b, 0);
        } catch (err) {
          assert.ok(err instanceof SysError || err instanceof TypeError || err instanceof RangeError, `${name}: unexpected ${String(err)}`);
        }
        calls++;
      }
    }
  }
  assert.ok(calls > 1000);
});

test('the addon loads in a worker thread with its own error factory', async () => {
  const code = `
    import { parentPort } from 'node:worker_threads';
    const sys = await import(${JSON.stringify(SYS_URL)});
    const { SysError } = await import(${JSON.stringify(ERRORS_URL)});
    try { sys.native.close(-1); } catch (err) { parentPort.postMessage(err instanceof SysError && err.code); }
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
  const [message] = await Promise.all([
    new Promise((resolve) => worker.once('message', resolve)),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  assert.equal(message, 'EBADF');
});

test('without an error factory the addon throws a plain Error whose code is the errno name', async () => {
  // A fresh worker that loads the addon by path and registers no factory.
  const code = `
    import { parentPort } from 'node:worker_threads';
    import { createRequire } from 'node:module';
    const path = ${JSON.stringify(addonPath())};
    const addon = createRequire(path)(path);
    const codes = [];
    for (const call of [() => addon.close(-1), () => addon.open('/nonexistent/vfio-ts', 0)]) {
      try { call(); codes.push('no error'); } catch (err) { codes.push(err.constructor.name + ' ' + err.code + ' ' + err.message); }
    }
    parentPort.postMessage(codes);
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
  const [message] = await Promise.all([
    new Promise((resolve) => worker.once('message', resolve)),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  assert.deepEqual(message, ['Error EBADF close failed: EBADF', 'Error ENOENT open failed: ENOENT (/nonexistent/vfio-ts)']);
});
