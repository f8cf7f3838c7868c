// A lingering watcher (FdWatcher.linger): after its callback it waits for
// the fd to be readable again and calls back without going through the
// event loop - within its budget and round limit, never past a due timer or
// immediate, with nextTick and promise jobs run between calls, other fds
// served once the budget is spent, and a thread-pool completion served at
// once. The peer is a worker thread doing synchronous request/reply on a
// socketpair (test/sys/linger-peer.ts).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, stat } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { closeFd } from '../../src/sys/fd.js';
import { native } from '../../src/sys/native.js';
import { FdWatcher, READABLE } from '../../src/sys/poll.js';

const PEER = new URL('./linger-peer.js', import.meta.url);

interface Call {
  /** Request index. */
  i: number;
  /** 0 from the loop, k for the k-th lingering call. */
  round: number;
}

interface ServeOptions {
  budgetUs: number;
  maxRounds?: number;
  count: number;
  pauses?: Record<number, number>;
  /** Called for each request before its reply goes. */
  onRequest?: (i: number, round: number, watcher: FdWatcher) => void;
  /** Marks in the order things happened (shared with onRequest). */
  marks?: string[];
}

/** Answers `count` requests of a worker peer through a (lingering) watcher; the calls in order. */
async function serve(o: ServeOptions): Promise<Call[]> {
  const [a, b] = native.socketpair();
  const calls: Call[] = [];
  const buf = new Uint8Array(64);
  let next = 0;
  const watcher = new FdWatcher(a, (_events, error, round) => {
    assert.equal(error, null);
    const n = native.recvmsg(a, buf, 0, buf.length);
    for (let k = 0; k < n; k++) {
      const i = next++;
      assert.equal(buf[k], i & 0xff);
      calls.push({ i, round });
      o.marks?.push(`req${i}`);
      o.onRequest?.(i, round, watcher);
      native.sendmsg(a, Uint8Array.of(i & 0xff), 0, 1);
    }
  });
  if (o.budgetUs > 0) watcher.linger(o.budgetUs, o.maxRounds ?? 64);
  watcher.start(READABLE);
  const worker = new Worker(PEER, { workerData: { fd: b, count: o.count, pauses: o.pauses ?? {} } });
  try {
    const [msg] = (await once(worker, 'message')) as [string];
    assert.equal(msg, 'done');
  } finally {
    await worker.terminate();
    watcher.close();
    closeFd(a);
    closeFd(b);
  }
  assert.equal(calls.length, o.count);
  return calls;
}

test('without lingering every call comes from the loop', async () => {
  const calls = await serve({ budgetUs: 0, count: 200 });
  assert.ok(calls.every((c) => c.round === 0));
});

test('a lingering watcher answers back-to-back requests without going back to the loop', async () => {
  const calls = await serve({ budgetUs: 1_000_000, maxRounds: 1_000_000, count: 500 });
  const lingered = calls.filter((c) => c.round > 0).length;
  assert.ok(lingered >= calls.length / 2, `${lingered} of ${calls.length} calls lingered`);
  // Rounds count up within a stretch.
  for (let k = 1; k < calls.length; k++) {
    if (calls[k]!.round > 0) assert.equal(calls[k]!.round, calls[k - 1]!.round + 1);
  }
});

test('a stretch ends after maxRounds calls', async () => {
  const calls = await serve({ budgetUs: 1_000_000, maxRounds: 5, count: 300 });
  const most = Math.max(...calls.map((c) => c.round));
  assert.equal(most, 4, 'rounds 0..4: five calls per loop iteration');
});

test('a timer that comes due is not held up by lingering', async () => {
  const marks: string[] = [];
  await serve({
    budgetUs: 1_000_000,
    count: 2,
    pauses: { 1: 400 },
    marks,
    onRequest: (i) => {
      if (i === 0) setTimeout(() => marks.push('timer'), 30);
    },
  });
  assert.deepEqual(marks, ['req0', 'timer', 'req1']);
});

test('an immediate gives the loop back at once', async () => {
  const marks: string[] = [];
  const calls = await serve({
    budgetUs: 1_000_000,
    count: 3,
    marks,
    onRequest: (i) => {
      if (i === 0) setImmediate(() => marks.push('immediate'));
    },
  });
  assert.deepEqual(marks.slice(0, 3), ['req0', 'immediate', 'req1']);
  assert.equal(calls[1]!.round, 0, 'request 1 came through the loop');
});

test('nextTick and promise jobs run between lingering calls', async () => {
  const marks: string[] = [];
  const count = 200;
  const calls = await serve({
    budgetUs: 1_000_000,
    maxRounds: 1_000_000,
    count,
    marks,
    onRequest: (i) => {
      process.nextTick(() => marks.push(`tick${i}`));
      void Promise.resolve().then(() => marks.push(`job${i}`));
    },
  });
  assert.ok(
    calls.some((c) => c.round > 0),
    'some calls lingered',
  );
  const expected = Array.from({ length: count }, (_, i) => [`req${i}`, `tick${i}`, `job${i}`]).flat();
  assert.deepEqual(marks, expected);
});

test('other fds are served once the budget is spent, while the peer keeps sending', async () => {
  const [c, d] = native.socketpair();
  let otherAt = -1;
  let last = -1;
  const other = new FdWatcher(d, () => {
    native.recvmsg(d, new Uint8Array(8), 0, 8);
    otherAt = last;
    other.stop();
  });
  other.start(READABLE);
  try {
    const count = 20_000;
    await serve({
      budgetUs: 20_000,
      maxRounds: 1_000_000,
      count,
      onRequest: (i) => {
        last = i;
        if (i === 0) native.sendmsg(c, Uint8Array.of(1), 0, 1);
      },
    });
    assert.ok(otherAt >= 0, 'the other fd was served');
    assert.ok(otherAt < count - 1, `the other fd waited for the whole stream (served after request ${otherAt})`);
  } finally {
    other.close();
    closeFd(c);
    closeFd(d);
  }
});

test('a thread-pool completion ends the stretch, while the peer keeps sending', async () => {
  let doneAt = -1;
  let last = -1;
  const count = 20_000;
  await serve({
    budgetUs: 1_000_000,
    maxRounds: 1_000_000,
    count,
    onRequest: (i) => {
      last = i;
      // fs.stat runs on the thread pool; its completion wakes the loop's epoll fd.
      if (i === 0)
        stat('/', () => {
          doneAt = last;
        });
    },
  });
  assert.ok(doneAt >= 0, 'the completion was delivered');
  assert.ok(doneAt < count - 1, `the completion waited for the whole stream (delivered after request ${doneAt})`);
});

test('stopping the watcher in its callback ends the stretch; starting it again resumes from the loop', async () => {
  const marks: string[] = [];
  const calls = await serve({
    budgetUs: 1_000_000,
    maxRounds: 1_000_000,
    count: 6,
    marks,
    onRequest: (i, _round, w) => {
      if (i !== 3) return;
      w.stop();
      setTimeout(() => {
        marks.push('restart');
        w.start(READABLE);
      }, 50);
    },
  });
  assert.deepEqual(marks, ['req0', 'req1', 'req2', 'req3', 'restart', 'req4', 'req5']);
  assert.equal(calls[4]!.round, 0);
});

test('linger arguments are checked', () => {
  const [a, b] = native.socketpair();
  const w = new FdWatcher(a, () => {});
  try {
    assert.throws(() => w.linger(-1), RangeError);
    assert.throws(() => w.linger(2_000_000), RangeError);
    assert.throws(() => w.linger(100, 0), RangeError);
    w.linger(0);
  } finally {
    w.close();
    closeFd(a);
    closeFd(b);
  }
});

test('a process that lingered spawns children without its blocked wake-up signal', async () => {
  // Lingering blocks WAIT_SIGNAL (SIGRTMIN+9) on the loop's thread; spawned
  // programs must not inherit that (libuv clears the mask before exec).
  await serve({ budgetUs: 1_000_000, count: 20 });
  const blocked = (s: string): bigint => BigInt(`0x${/^SigBlk:\s*([0-9a-f]+)/m.exec(s)![1]}`);
  const bit = 1n << BigInt(native.WAIT_SIGNAL - 1);
  const mine = blocked(readFileSync('/proc/thread-self/status', 'utf8'));
  assert.equal(mine & bit, bit, 'this thread blocks the wake-up signal');
  const child = execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' });
  assert.equal(blocked(child) & bit, 0n);
});
