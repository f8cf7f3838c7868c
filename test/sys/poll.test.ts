// The fd watcher: readiness delivered on the event loop, start/stop/close,
// ref/unref and the process lifetime (a stopped or unref'ed watcher lets the
// process exit, an active one keeps it alive), errors for bad fds, a throwing
// callback reported as an uncaught exception, teardown inside workers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SysError } from '../../src/errors.js';
import { closeFd, openFd } from '../../src/sys/fd.js';
import { native } from '../../src/sys/native.js';
import { DISCONNECT, FdWatcher, READABLE, WRITABLE } from '../../src/sys/poll.js';
import { SYS_URL, openFdCount, runChild, sleep } from './helpers.js';

test('readable and writable events arrive on the loop', async () => {
  const [a, b] = native.socketpair();
  try {
    const seen: number[] = [];
    let wake!: () => void;
    const woke = new Promise<void>((r) => (wake = r));
    const w = new FdWatcher(b, (events, error) => {
      assert.equal(error, null);
      seen.push(events);
      w.stop();
      wake();
    });
    w.start(READABLE);
    assert.equal(w.active, true);
    await sleep(20);
    assert.deepEqual(seen, [], 'nothing to read yet');
    native.sendmsg(a, Uint8Array.of(1), 0, 1);
    await woke;
    assert.equal(seen[0]! & READABLE, READABLE);
    assert.equal(w.active, false);

    const writable = await new Promise<number>((resolve) => {
      const w2 = new FdWatcher(a, (events) => {
        w2.close();
        resolve(events);
      });
      w2.start(WRITABLE);
    });
    assert.equal(writable & WRITABLE, WRITABLE);
    w.close();
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

test('peer hang-up wakes a readable watcher (and DISCONNECT)', async () => {
  const [a, b] = native.socketpair();
  const events = await new Promise<number>((resolve) => {
    const w = new FdWatcher(b, (ev) => {
      w.close();
      resolve(ev);
    });
    w.start(READABLE | DISCONNECT);
    closeFd(a);
  });
  assert.ok(events & (READABLE | DISCONNECT));
  assert.equal(native.recvmsg(b, new Uint8Array(4), 0, 4, null), 0, 'end of stream');
  closeFd(b);
});

test('bad fds: EBADF for closed ones, EPERM for regular files', () => {
  const fd = openFd('/dev/null', 0);
  closeFd(fd);
  assert.throws(
    () => new FdWatcher(fd, () => {}),
    (err: unknown) => err instanceof SysError && err.code === 'EBADF',
  );
  const file = openFd('/etc/hostname', 0);
  try {
    assert.throws(
      () => new FdWatcher(file, () => {}),
      (err: unknown) => err instanceof SysError && err.code === 'EPERM',
    );
  } finally {
    closeFd(file);
  }
});

test('close is idempotent, start after close is EBADF, no fd or handle leak', async () => {
  const before = openFdCount();
  for (let i = 0; i < 200; i++) {
    const [a, b] = native.socketpair();
    const w = new FdWatcher(a, () => {});
    w.start(READABLE | WRITABLE);
    w.unref().ref();
    w.close();
    w.close();
    assert.throws(
      () => w.start(READABLE),
      (err: unknown) => err instanceof SysError && err.code === 'EBADF',
    );
    w.stop();
    closeFd(a);
    closeFd(b);
  }
  await sleep(10); // close callbacks run
  assert.equal(openFdCount(), before);
});

test('a stopped watcher lets the process exit', async () => {
  const r = await runChild(`
    const [a, b] = sys.native.socketpair();
    const w = new sys.FdWatcher(a, () => {});
    w.start(sys.READABLE);
    setTimeout(() => { w.stop(); console.log('stopped'); }, 50);
  `);
  assert.equal(r.timedOut, false, 'the child exited by itself');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /stopped/);
});

test('an active watcher keeps the process alive; unref lets it go', async () => {
  const alive = await runChild(
    `
    const [a, b] = sys.native.socketpair();
    new sys.FdWatcher(a, () => {}).start(sys.READABLE);
  `,
    { timeoutMs: 700 },
  );
  assert.equal(alive.timedOut, true, 'still running when killed');

  const unref = await runChild(`
    const [a, b] = sys.native.socketpair();
    new sys.FdWatcher(a, () => {}).start(sys.READABLE).unref();
  `);
  assert.equal(unref.timedOut, false);
  assert.equal(unref.code, 0, unref.stderr);
});

test('an unreachable stopped watcher is collected and closed', async () => {
  const r = await runChild(
    `
    const [a, b] = sys.native.socketpair();
    for (let i = 0; i < 1000; i++) new sys.FdWatcher(a, () => {}).start(sys.READABLE).stop();
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc();
    // A new watcher on the same fd works: the old ones are gone or stopped.
    const w = new sys.FdWatcher(a, () => { console.log('event'); w.close(); });
    w.start(sys.WRITABLE);
  `,
    { nodeArgs: ['--expose-gc'] },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /event/);
});

test('a throwing callback surfaces as an uncaught exception', async () => {
  const r = await runChild(`
    process.on('uncaughtException', (err) => { console.log('caught', err.message); process.exit(0); });
    const [a, b] = sys.native.socketpair();
    new sys.FdWatcher(a, () => { throw new Error('boom'); }).start(sys.WRITABLE);
  `);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /caught boom/);
});

test('workers exit cleanly with active, stopped and unclosed watchers', async () => {
  const code = `
    const sys = await import(${JSON.stringify(SYS_URL)});
    const [a, b] = sys.native.socketpair();
    const [c, d] = sys.native.socketpair();
    new sys.FdWatcher(a, () => {}).start(sys.READABLE);
    new sys.FdWatcher(b, () => {}).start(sys.WRITABLE).stop();
    new sys.FdWatcher(c, () => {});
    const e = sys.EventFd.create();
    e.watch(() => {});
    const m = sys.Mapping.anonymous(65536);
    new Uint8Array(m.buffer)[0] = 1;
    setTimeout(() => process.exit(0), 20);
  `;
  for (let i = 0; i < 3; i++) {
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
    const exitCode = await new Promise((resolve) => worker.once('exit', resolve));
    assert.equal(exitCode, 0);
  }
  // Terminated from outside while watching.
  const worker = new Worker(
    new URL(
      `data:text/javascript,${encodeURIComponent(`
    import { parentPort } from 'node:worker_threads';
    const sys = await import(${JSON.stringify(SYS_URL)});
    const [a, b] = sys.native.socketpair();
    new sys.FdWatcher(a, () => {}).start(sys.READABLE);
    parentPort.postMessage('ready');
  `)}`,
    ),
  );
  await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
});
