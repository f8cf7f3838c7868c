// UNIX sockets: listen/accept/connect and the socket file's lifecycle, fd
// passing that really works (a memfd written through on one side and read on
// the other, an eventfd signalled across), fds attached to the bytes they came
// with, more fds than the receiver holds (EMSGSIZE, nothing leaked), partial
// sends and receives, the send queue, peer gone (end/close events, EPIPE
// rather than SIGPIPE), transact (replies, timeouts, a real peer thread),
// peer credentials, and no fd leaks.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SysError } from '../../src/errors.js';
import { EventFd } from '../../src/sys/eventfd.js';
import { MemFd, Mapping, PAGE_SIZE } from '../../src/sys/memory.js';
import { native } from '../../src/sys/native.js';
import { UnixConnection, UnixServer } from '../../src/sys/unix-socket.js';
import { SYS_URL, isCloexec, isOpen, once, openFdCount, runChild, sleep, tempDir } from './helpers.js';

const isSys =
  (code: string, syscall?: string) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof SysError, `expected SysError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    if (syscall) assert.equal(err.syscall, syscall);
    return true;
  };

interface Collected {
  /** Everything received so far, in order. */
  readonly bytes: Uint8Array;
  length: number;
  /** Received fds; `end` is the stream offset just past the chunk they came with. */
  fds: { end: number; fd: number }[];
  chunks: number;
}

/** Collects what a connection receives, taking ownership of the fds. */
function collect(conn: UnixConnection): Collected {
  const parts: Uint8Array[] = [];
  const got: Collected = {
    get bytes() {
      return Buffer.concat(parts);
    },
    length: 0,
    fds: [],
    chunks: 0,
  };
  conn.receive((data, length, fds, fdCount) => {
    parts.push(data.slice(0, length));
    got.length += length;
    for (let i = 0; i < fdCount; i++) got.fds.push({ end: got.length, fd: fds[i]! });
    got.chunks++;
  });
  return got;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
}

test('listen, connect, accept; close removes the socket file', async () => {
  const { dir, cleanup } = tempDir();
  const before = openFdCount();
  try {
    const path = join(dir, 's.sock');
    const server = UnixServer.listen(path);
    assert.ok(existsSync(path));
    assert.ok(isCloexec(server.fd));
    const accepted = once<UnixConnection>(server, 'connection');
    const client = UnixConnection.connect(path);
    const conn = await accepted;
    assert.ok(isCloexec(conn.fd) && isCloexec(client.fd));
    client.sendSync(Buffer.from('ping'));
    const buf = new Uint8Array(16);
    assert.equal(conn.receiveSync(buf, 0, 16, null, 1000), 4);
    assert.equal(Buffer.from(buf.subarray(0, 4)).toString(), 'ping');
    client.close();
    conn.close();
    const closed = once(server, 'close');
    server.close();
    server.close();
    await closed;
    assert.equal(existsSync(path), false);
  } finally {
    cleanup();
  }
  assert.equal(openFdCount(), before);
});

test('a stale socket file is replaced; a live socket or another file is EADDRINUSE', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'stale.sock');
    native.close(native.unixListen(path)); // a crashed server leaves its file
    assert.ok(existsSync(path));
    const server = UnixServer.listen(path);
    assert.throws(() => UnixServer.listen(path), isSys('EADDRINUSE'));
    server.close();

    const file = join(dir, 'file');
    writeFileSync(file, 'keep me');
    assert.throws(() => UnixServer.listen(file), isSys('EADDRINUSE'));
    assert.ok(existsSync(file), 'a non-socket file is never removed');
  } finally {
    cleanup();
  }
});

test('connect errors: missing path, non-socket, path too long', () => {
  const { dir, cleanup } = tempDir();
  try {
    assert.throws(() => UnixConnection.connect(join(dir, 'missing')), isSys('ENOENT', 'connect'));
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    assert.throws(() => UnixConnection.connect(file), isSys('ECONNREFUSED', 'connect'));
    assert.throws(() => UnixConnection.connect(join(dir, 'x'.repeat(120))), isSys('ENAMETOOLONG'));
    assert.throws(() => UnixServer.listen(join(dir, 'x'.repeat(120))), isSys('ENAMETOOLONG'));
  } finally {
    cleanup();
  }
});

test('a passed memfd: write through one side, read through the other', () => {
  const before = openFdCount();
  const [a, b] = UnixConnection.pair();
  const mem = MemFd.create('passed', PAGE_SIZE);
  const mine = mem.map();
  a.sendSync(Uint8Array.of(0x42), [mem.fd]);
  const buf = new Uint8Array(8);
  const fds = new Int32Array(4);
  assert.equal(b.receiveSync(buf, 0, 8, fds, 1000), 1);
  assert.equal(b.receivedFds, 1);
  const theirs = fds[0]!;
  assert.notEqual(theirs, mem.fd);
  assert.ok(isCloexec(theirs), 'received fds carry O_CLOEXEC');
  const other = Mapping.map(theirs, 0, PAGE_SIZE);
  new DataView(other.buffer).setUint32(64, 0x12345678, true);
  assert.equal(new DataView(mine.buffer).getUint32(64, true), 0x12345678);
  mine.bytes()[0] = 0x99;
  assert.equal(other.bytes()[0], 0x99);
  other.unmap();
  mine.unmap();
  native.close(theirs);
  mem.close();
  a.close();
  b.close();
  assert.equal(openFdCount(), before);
});

test('a passed eventfd: signalled across, watched on the other side', async () => {
  const [a, b] = UnixConnection.pair();
  const irq = EventFd.create();
  const got = collect(b);
  a.send(Uint8Array.of(1, 2, 3), [irq.fd]);
  await until(() => got.fds.length === 1);
  const remote = new EventFd(got.fds[0]!.fd);
  remote.signal(3);
  assert.equal(irq.read(), 3);
  const counts: number[] = [];
  irq.watch((n) => counts.push(n));
  remote.signal(2);
  await until(() => counts.length === 1);
  assert.deepEqual(counts, [2]);
  remote.close();
  irq.close();
  a.close();
  b.close();
});

test('fds arrive with the receive that ends in the bytes they were sent with', () => {
  const [a, b] = UnixConnection.pair();
  const e1 = EventFd.create();
  const e2 = EventFd.create();
  a.send(new Uint8Array(10).fill(1), [e1.fd]);
  a.send(new Uint8Array(10).fill(2));
  a.send(new Uint8Array(5).fill(3), [e1.fd, e2.fd]);
  a.send(new Uint8Array(4).fill(4));
  const buf = new Uint8Array(64);
  const fds = new Int32Array(8);
  // The kernel ends a receive right after bytes that brought fds...
  assert.equal(b.receiveSync(buf, 0, 64, fds, 1000), 10);
  assert.equal(b.receivedFds, 1);
  native.close(fds[0]!);
  // ...but fd-less bytes before them may share the receive.
  assert.equal(b.receiveSync(buf, 0, 64, fds, 1000), 15);
  assert.equal(b.receivedFds, 2);
  assert.deepEqual([...buf.subarray(9, 15)], [2, 3, 3, 3, 3, 3]);
  native.close(fds[0]!);
  native.close(fds[1]!);
  assert.equal(b.receiveSync(buf, 0, 64, fds, 1000), 4);
  assert.equal(b.receivedFds, 0);
  // A range smaller than the fd-carrying bytes still gets the fds with its first part.
  a.send(new Uint8Array(8).fill(5), [e2.fd]);
  assert.equal(b.receiveSync(buf, 0, 3, fds, 1000), 3);
  assert.equal(b.receivedFds, 1);
  native.close(fds[0]!);
  assert.equal(b.receiveSync(buf, 0, 64, fds, 1000), 5);
  assert.equal(b.receivedFds, 0);
  e1.close();
  e2.close();
  a.close();
  b.close();
});

test('more fds than the receiver holds: EMSGSIZE, the fds that arrived are closed', () => {
  const [a, b] = UnixConnection.pair();
  const efds = [EventFd.create(), EventFd.create(), EventFd.create()];
  a.sendSync(
    Uint8Array.of(1, 2, 3),
    efds.map((e) => e.fd),
  );
  const before = openFdCount();
  const fds = new Int32Array(2);
  assert.throws(
    () => b.receiveSync(new Uint8Array(8), 0, 8, fds, 1000),
    (err: unknown) => {
      assert.ok(err instanceof SysError);
      assert.equal(err.code, 'EMSGSIZE');
      assert.match(err.message, /more fds than the receive array holds \(2\)/);
      return true;
    },
  );
  assert.equal(openFdCount(), before, 'no fd leaked');
  // With no fd array at all, any fd is too many.
  a.sendSync(Uint8Array.of(4), [efds[0]!.fd]);
  assert.throws(() => b.receiveSync(new Uint8Array(8), 0, 8, null, 1000), isSys('EMSGSIZE'));
  assert.equal(openFdCount(), before);
  for (const e of efds) e.close();
  a.close();
  b.close();
});

test('too many fds on the async path: error event, connection closed, nothing leaked', async () => {
  const [a, b] = UnixConnection.pair({ maxFds: 1 });
  const e1 = EventFd.create();
  const e2 = EventFd.create();
  const before = openFdCount();
  const errors: unknown[] = [];
  b.on('error', (err) => errors.push(err));
  const closed = once(b, 'close');
  b.receive(() => assert.fail('no chunk is delivered'));
  a.send(Uint8Array.of(1), [e1.fd, e2.fd]);
  await closed;
  assert.equal(errors.length, 1);
  assert.ok(isSys('EMSGSIZE')(errors[0]));
  assert.equal(openFdCount(), before - 1, 'only b itself went');
  e1.close();
  e2.close();
  a.close();
});

test('partial receives: a small range takes part, the rest stays', () => {
  const [a, b] = UnixConnection.pair();
  const msg = Uint8Array.from({ length: 100 }, (_, i) => i);
  a.sendSync(msg);
  const buf = new Uint8Array(100);
  assert.equal(b.receiveSync(buf, 0, 10, null, 1000), 10);
  assert.equal(b.receiveSync(buf, 10, 90, null, 1000), 90);
  assert.deepEqual(buf, msg);
  assert.throws(() => b.receiveSync(buf, 0, 0, null, 0), RangeError, 'an empty range cannot tell data from EOF');
  assert.throws(() => b.receiveSync(buf, 95, 10, null, 0), RangeError);
  assert.throws(() => a.send(new Uint8Array(0), [0]), RangeError, 'fds need a byte to travel with');
  a.close();
  b.close();
});

test('send queues what the socket cannot take and drains it in order', async () => {
  const [a, b] = UnixConnection.pair({ receiveBufferSize: 4096 });
  const big = new Uint8Array(4 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  assert.equal(a.send(big), false, 'a 4 MiB message does not fit the socket');
  assert.ok(a.pendingBytes > 0);
  // A memfd sent behind the queue: the caller may close its own fd at once.
  const mem = MemFd.create('queued', PAGE_SIZE);
  const m = mem.map();
  m.bytes()[5] = 55;
  m.unmap();
  assert.equal(a.send(Uint8Array.of(0xee), [mem.fd]), false);
  mem.close();
  const drained = once(a, 'drain');
  const got = collect(b);
  await drained;
  assert.equal(a.pendingBytes, 0);
  await until(() => got.length === big.length + 1);
  assert.ok(got.chunks > 1);
  const bytes = got.bytes;
  assert.ok(Buffer.from(big).equals(bytes.subarray(0, big.length)), 'the bytes arrive intact and in order');
  assert.equal(bytes[big.length], 0xee);
  assert.deepEqual(
    got.fds.map((f) => f.end),
    [big.length + 1],
    'the fd came with the chunk ending in its byte',
  );
  const theirs = Mapping.map(got.fds[0]!.fd, 0, PAGE_SIZE);
  assert.equal(theirs.bytes()[5], 55);
  theirs.unmap();
  native.close(got.fds[0]!.fd);
  a.close();
  b.close();
});

test('sendmsg returns -1 when the socket is full; sendSync flushes and waits', async () => {
  const [a, b] = UnixConnection.pair();
  const chunk = new Uint8Array(65536);
  let sent = 0;
  for (;;) {
    const n = native.sendmsg(a.fd, chunk, 0, chunk.length);
    if (n < 0) break;
    sent += n;
  }
  assert.ok(sent > 0);
  assert.throws(() => a.sendSync(chunk, null, 30), isSys('ETIMEDOUT'), 'nobody reads');
  const got = collect(b);
  await until(() => got.length >= sent);
  a.close();
  b.close();
});

test('peer gone: the watcher sees end of stream, then close', async () => {
  const [a, b] = UnixConnection.pair();
  const got = collect(b);
  const events: string[] = [];
  b.on('end', () => events.push('end'));
  b.on('close', () => events.push('close'));
  a.send(Buffer.from('last words'));
  a.close();
  await once(b, 'close');
  assert.deepEqual(events, ['end', 'close']);
  assert.equal(Buffer.from(got.bytes).toString(), 'last words');
  assert.equal(b.closed, true);
  assert.equal(b.fd, -1);
});

test('peer gone with unread data (reset) is an end too', async () => {
  const [a, b] = UnixConnection.pair();
  b.send(Buffer.from('never read by a'));
  const got = collect(b);
  const ended = once(b, 'end');
  a.close(); // a had unread data: b gets ECONNRESET
  await ended;
  assert.equal(got.length, 0);
});

test('send to a gone peer throws EPIPE, never SIGPIPE', async () => {
  const [a, b] = UnixConnection.pair();
  b.close();
  assert.throws(() => a.send(Uint8Array.of(1)), isSys('EPIPE', 'sendmsg'));
  assert.throws(() => a.sendSync(Uint8Array.of(1)), isSys('EPIPE', 'sendmsg'));
  assert.throws(() => a.transact(Uint8Array.of(1), 1, null, new Uint8Array(4), null, 100), isSys('EPIPE'));
  a.close();
  // The same in a fresh process with the default SIGPIPE disposition.
  const r = await runChild(`
    const [a, b] = sys.UnixConnection.pair();
    b.close();
    try { a.send(new Uint8Array(1)); } catch (err) { console.log(err.code, err instanceof errors.SysError); }
  `);
  assert.equal(r.signal, null);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /EPIPE true/);
});

test('operations on a closed connection are EBADF', () => {
  const [a, b] = UnixConnection.pair();
  a.close();
  a.close();
  assert.throws(() => a.send(Uint8Array.of(1)), isSys('EBADF'));
  assert.throws(() => a.receiveSync(new Uint8Array(1)), isSys('EBADF'));
  assert.throws(() => a.peerCred(), isSys('EBADF'));
  assert.throws(() => a.receive(() => {}), isSys('EBADF'));
  assert.throws(() => native.sendmsg(-1, new Uint8Array(1), 0, 1), isSys('EBADF'));
  assert.throws(() => native.recvmsg(-1, new Uint8Array(1), 0, 1), isSys('EBADF'));
  b.close();
});

test('transact: a reply already there is returned with its fds', () => {
  const [a, b] = UnixConnection.pair();
  const e = EventFd.create();
  b.sendSync(Buffer.from('reply!'), [e.fd]);
  const reply = new Uint8Array(32);
  const fds = new Int32Array(4);
  const n = a.transact(Buffer.from('request'), 7, null, reply, fds, 1000);
  assert.equal(n, 6);
  assert.equal(a.receivedFds, 1);
  native.close(fds[0]!);
  const req = new Uint8Array(16);
  assert.equal(b.receiveSync(req, 0, 16, null, 0), 7);
  assert.equal(Buffer.from(req.subarray(0, 7)).toString(), 'request');
  e.close();
  a.close();
  b.close();
});

test('transact times out with ETIMEDOUT when no reply comes', () => {
  const [a, b] = UnixConnection.pair();
  const t0 = performance.now();
  assert.throws(
    () => a.transact(Uint8Array.of(1), 1, null, new Uint8Array(8), null, 50),
    (err: unknown) => {
      assert.ok(err instanceof SysError);
      assert.equal(err.code, 'ETIMEDOUT');
      assert.equal(err.syscall, 'transact');
      assert.match(err.message, /no data within 50 ms/);
      return true;
    },
  );
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 45 && elapsed < 1000, `${elapsed} ms`);
  assert.throws(() => a.receiveSync(new Uint8Array(1), 0, 1, null, 20), isSys('ETIMEDOUT', 'recvSync'));
  a.close();
  b.close();
});

test('transact returns 0 when the peer closes instead of replying', async () => {
  const [a, b] = UnixConnection.pair();
  // The peer reads the request and closes, in another thread.
  const worker = new Worker(
    new URL(
      `data:text/javascript,${encodeURIComponent(`
    import { workerData } from 'node:worker_threads';
    const sys = await import(${JSON.stringify(SYS_URL)});
    const b = new sys.UnixConnection(workerData);
    b.receive(() => b.close());
  `)}`,
    ),
    { workerData: b.fd },
  );
  await sleep(50);
  assert.equal(a.transact(Uint8Array.of(1), 1, null, new Uint8Array(8), null, 5000), 0);
  await once(worker, 'exit');
  a.close();
});

test('transact against a peer in another thread: many round trips with fds', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'echo.sock');
  // The echo server runs in a worker: it replies to each request with the
  // same bytes, returning any fds it got.
  const worker = new Worker(
    new URL(
      `data:text/javascript,${encodeURIComponent(`
    import { parentPort, workerData } from 'node:worker_threads';
    const sys = await import(${JSON.stringify(SYS_URL)});
    const server = sys.UnixServer.listen(workerData);
    server.on('connection', (conn) => {
      conn.receive((data, length, fds, fdCount) => {
        const reply = data.slice(0, length);
        const passed = Array.from(fds.subarray(0, fdCount));
        conn.send(reply, passed);
        for (const fd of passed) sys.native.close(fd);
      });
      conn.on('close', () => { server.close(); });
    });
    parentPort.postMessage('listening');
  `)}`,
    ),
    { workerData: path },
  );
  let client: UnixConnection | undefined;
  try {
    await once(worker, 'message');
    client = UnixConnection.connect(path);
    const req = new Uint8Array(64);
    const reply = new Uint8Array(64);
    const fds = new Int32Array(4);
    assert.equal(client.transact(req, 64, null, reply, fds, 5000), 64);
    const before = openFdCount(); // the worker has accepted by now
    for (let i = 0; i < 2000; i++) {
      req[0] = i & 0xff;
      req[1] = i >> 8;
      assert.equal(client.transact(req, 64, null, reply, fds, 5000), 64, `round trip ${i}`);
      assert.equal(reply[0], i & 0xff);
      assert.equal(reply[1], i >> 8);
    }
    const e = EventFd.create();
    assert.equal(client.transact(req, 8, [e.fd], reply, fds, 5000), 8);
    assert.equal(client.receivedFds, 1);
    new EventFd(fds[0]!).signal(6);
    native.close(fds[0]!);
    assert.equal(e.read(), 6);
    e.close();
    // The worker closes its copy of the fd just after replying.
    await until(() => openFdCount() === before);
    const peer = client.peerCred();
    assert.deepEqual(peer, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    client.close();
    await once(worker, 'exit');
    assert.equal(existsSync(path), false, 'the worker closed its server');
  } finally {
    client?.close();
    await worker.terminate();
    cleanup();
  }
});

test('peer credentials: pair and cross-process', async () => {
  const [a, b] = UnixConnection.pair();
  assert.deepEqual(a.peerCred(), { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  a.close();
  b.close();

  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'cred.sock');
    const server = UnixServer.listen(path);
    const accepted = once<UnixConnection>(server, 'connection');
    const child = runChild(`
      const c = sys.UnixConnection.connect(${JSON.stringify(path)});
      c.sendSync(new TextEncoder().encode(String(process.pid)));
      c.receiveSync(new Uint8Array(1), 0, 1, null, 5000);
    `);
    const conn = await accepted;
    const buf = new Uint8Array(16);
    const n = conn.receiveSync(buf, 0, 16, null, 5000);
    const childPid = Number(Buffer.from(buf.subarray(0, n)).toString());
    const cred = conn.peerCred();
    assert.equal(cred.pid, childPid);
    assert.notEqual(cred.pid, process.pid);
    assert.equal(cred.uid, process.getuid!());
    assert.equal(cred.gid, process.getgid!());
    conn.sendSync(Uint8Array.of(1));
    assert.equal((await child).code, 0);
    conn.close();
    server.close();
  } finally {
    cleanup();
  }
});

test('a connection nobody listens for is closed; unref lets the process exit', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'unheard.sock');
    const server = UnixServer.listen(path);
    const client = UnixConnection.connect(path);
    const ended = once(client, 'end');
    collect(client);
    await ended; // the server closed the connection it had no listener for
    server.close();

    const r = await runChild(`
      const [a, b] = sys.UnixConnection.pair();
      b.receive(() => {}).unref();
      const s = sys.UnixServer.listen(${JSON.stringify(join(dir, 'unref.sock'))}).unref();
      console.log('done');
    `);
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    cleanup();
  }
});

test('end() flushes the queue, then the peer sees end of stream', async () => {
  const [a, b] = UnixConnection.pair();
  const big = new Uint8Array(1 << 20).fill(9);
  a.send(big);
  a.end();
  const got = collect(b);
  await once(b, 'end');
  assert.equal(got.length, big.length);
  assert.throws(() => a.send(Uint8Array.of(1)), isSys('EPIPE'));
  a.close();
  assert.equal(isOpen(b.fd), false);
});
