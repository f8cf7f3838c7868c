// eventfd: counts add up (numbers and bigints), semaphore mode takes one at a
// time, reads return 0 when nothing is pending or wait up to a timeout,
// watch() delivers counts on the loop, overflow and closed fds are SysErrors,
// and nothing leaks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SysError } from '../../src/errors.js';
import { EventFd } from '../../src/sys/eventfd.js';
import { memfdCreate } from '../../src/sys/memory.js';
import { addonPath, native } from '../../src/sys/native.js';
import { isCloexec, openFdCount } from './helpers.js';

test('counts add up and a read resets the counter', () => {
  const e = EventFd.create({ initial: 3 });
  try {
    assert.ok(isCloexec(e.fd));
    assert.equal(e.read(), 3);
    assert.equal(e.read(), 0, 'nothing pending');
    e.signal();
    e.signal(2);
    e.signal(5n);
    assert.equal(e.read(), 8);
    e.signal(2 ** 40);
    assert.equal(e.read(), 2 ** 40);
  } finally {
    e.close();
  }
});

test('semaphore mode hands out one unit per read', () => {
  const e = EventFd.create({ semaphore: true });
  try {
    e.signal(3);
    assert.deepEqual([e.read(), e.read(), e.read(), e.read()], [1, 1, 1, 0]);
  } finally {
    e.close();
  }
});

test('a blocking-mode eventfd still reads 0 without waiting', () => {
  const e = EventFd.create({ nonblock: false });
  try {
    const t0 = performance.now();
    assert.equal(e.read(), 0);
    assert.ok(performance.now() - t0 < 100);
    e.signal(4);
    assert.equal(e.read(), 4);
  } finally {
    e.close();
  }
});

test('read waits up to its timeout, and wakes when another thread signals', async () => {
  const e = EventFd.create();
  try {
    const t0 = performance.now();
    assert.equal(e.read(40), 0);
    assert.ok(performance.now() - t0 >= 35);
    // The worker loads the raw addon and signals while this thread blocks in read.
    const worker = new Worker(`setTimeout(() => require(process.env.ADDON).eventfdWrite(${e.fd}, 9), 30);`, {
      eval: true,
      env: { ADDON: addonPath() },
    });
    assert.equal(e.read(5000), 9, 'woken by the worker');
    await new Promise((resolve) => worker.once('exit', resolve));
  } finally {
    e.close();
  }
});

test('overflow of a non-blocking counter is EAGAIN; 2^64-1 is out of range', () => {
  const e = EventFd.create();
  try {
    e.signal(2n ** 64n - 2n);
    assert.throws(
      () => e.signal(1),
      (err: unknown) => err instanceof SysError && err.code === 'EAGAIN',
    );
    assert.throws(() => e.signal(2n ** 64n - 1n), RangeError);
    assert.throws(() => e.signal(-1), RangeError);
  } finally {
    e.close();
  }
});

test('watch delivers counts on the event loop; unwatch stops it', async () => {
  const e = EventFd.create();
  try {
    const counts: number[] = [];
    let wake!: () => void;
    let woke = new Promise<void>((r) => (wake = r));
    e.watch((n) => {
      counts.push(n);
      wake();
    });
    e.signal(2);
    e.signal(3);
    await woke;
    assert.deepEqual(counts, [5]);
    woke = new Promise<void>((r) => (wake = r));
    e.signal(1);
    await woke;
    assert.deepEqual(counts, [5, 1]);
    e.unwatch();
    e.signal(7);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(counts, [5, 1]);
    assert.equal(e.read(), 7);
  } finally {
    e.close();
  }
});

test('semaphore watch runs the callback once per unit', async () => {
  const e = EventFd.create({ semaphore: true });
  try {
    let total = 0;
    await new Promise<void>((resolve) => {
      e.watch((n) => {
        total += n;
        if (total === 4) resolve();
      });
      e.signal(4);
    });
    assert.equal(total, 4);
  } finally {
    e.close();
  }
});

test('closed and bad fds are EBADF; a non-eventfd read is refused', () => {
  const e = EventFd.create();
  const fd = e.fd;
  e.close();
  e.close();
  assert.equal(e.closed, true);
  assert.throws(
    () => e.signal(),
    (err: unknown) => err instanceof SysError && err.code === 'EBADF',
  );
  assert.throws(
    () => e.read(),
    (err: unknown) => err instanceof SysError && err.code === 'EBADF',
  );
  assert.throws(
    () => new EventFd(fd).read(),
    (err: unknown) => err instanceof SysError && err.code === 'EBADF',
  );
  assert.throws(
    () => new EventFd(-1).signal(),
    (err: unknown) => err instanceof SysError && err.code === 'EBADF',
  );
  const mem = memfdCreate('not-an-eventfd');
  try {
    assert.throws(
      () => native.eventfdRead(mem, 0),
      (err: unknown) => err instanceof SysError && err.code === 'EINVAL',
    );
  } finally {
    native.close(mem);
  }
});

test('release gives the fd away; no fds leak', () => {
  const before = openFdCount();
  for (let i = 0; i < 100; i++) {
    const e = EventFd.create({ initial: i });
    if (i % 2) {
      e.watch(() => {});
      e.close();
    } else {
      const fd = e.release();
      assert.equal(e.closed, true);
      assert.equal(native.eventfdRead(fd), i);
      native.close(fd);
    }
  }
  assert.equal(openFdCount(), before);
});
