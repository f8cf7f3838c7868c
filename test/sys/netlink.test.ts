// UeventSocket (src/sys/netlink.ts, native/netlink.c) on the host: the
// socket opens close-on-exec and non-blocking, receives nothing when nothing
// is pending, closes cleanly; as root, a synthetic "change" uevent written to
// a harmless device (/dev/null's) arrives from the kernel. Where the kernel
// refuses the socket (EPERM/EACCES/EPROTONOSUPPORT, e.g. a sandbox), every
// test skips with that reason in its name.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, accessSync, constants } from 'node:fs';
import { test } from 'node:test';
import { native, UeventSocket, UEVENT_BUFFER_SIZE } from '../../src/sys/index.js';
import { isCloexec, openFdCount } from './helpers.js';

function probe(): string | null {
  try {
    UeventSocket.open().close();
    return null;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EPERM' || code === 'EACCES' || code === 'EPROTONOSUPPORT') return `the kernel refuses a uevent socket here: ${code}`;
    throw e;
  }
}
const refused = probe();
const name = (n: string): string => (refused ? `${n} (SKIPPED: ${refused})` : n);
const opts = { skip: refused ?? false };

const NULL_UEVENT = '/sys/devices/virtual/mem/null/uevent';
function triggerReason(): string | null {
  if (refused) return refused;
  if (process.getuid?.() !== 0) return 'needs root to write a uevent file';
  try {
    accessSync(NULL_UEVENT, constants.W_OK);
    return null;
  } catch {
    return `${NULL_UEVENT} is not writable`;
  }
}
const noTrigger = triggerReason();

test(
  name('UeventSocket.open: a close-on-exec, non-blocking socket; nothing pending gives null; close is idempotent and leaks nothing'),
  opts,
  () => {
    const before = openFdCount();
    const s = UeventSocket.open();
    assert.ok(s.fd >= 0);
    assert.ok(isCloexec(s.fd), 'O_CLOEXEC');
    const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${s.fd}`, 'utf8'))![1]!, 8);
    assert.ok((flags & 0o4000) !== 0, 'O_NONBLOCK');
    // Drain whatever the machine happened to announce; then nothing is pending.
    for (let i = 0; i < 10_000 && s.receive() !== null; i++);
    assert.equal(s.receive(), null);
    s.close();
    s.close();
    assert.equal(s.closed, true);
    assert.throws(
      () => s.receive(),
      (e: { code?: string }) => e.code === 'EBADF',
    );
    assert.equal(openFdCount(), before);
  },
);

test(name('ueventRecv: argument checks (TypeError, RangeError) and EBADF as SysError, never a crash'), opts, () => {
  const raw = native as unknown as {
    ueventRecv(fd: unknown, buf: unknown, off?: unknown, len?: unknown): number;
    ueventOpen(rcvbuf?: unknown): number;
  };
  assert.throws(() => raw.ueventRecv('x', Buffer.alloc(8)), TypeError);
  assert.throws(() => raw.ueventRecv(0, 'not a buffer'), TypeError);
  assert.throws(() => raw.ueventRecv(0, Buffer.alloc(8), 4, 8), RangeError);
  assert.throws(() => raw.ueventOpen(-1), RangeError);
  assert.throws(
    () => raw.ueventRecv(-1, Buffer.alloc(8)),
    (e: { name?: string; code?: string; syscall?: string }) => e.code === 'EBADF' && e.syscall === 'recvmsg',
  );
  assert.ok(UEVENT_BUFFER_SIZE >= 8192);
});

test(noTrigger
  ? `a synthetic uevent written to /dev/null's uevent file arrives from the kernel (SKIPPED: ${noTrigger})`
  : "a synthetic uevent written to /dev/null's uevent file arrives from the kernel, on the event loop", {
  skip: noTrigger ?? false,
  timeout: 10_000,
}, async () => {
  const s = UeventSocket.open();
  try {
    const got = new Promise<string>((resolve) => {
      s.watch((d) => {
        const text = d.toString('latin1');
        if (text.startsWith('change@/devices/virtual/mem/null\0')) resolve(text);
      });
    });
    writeFileSync(NULL_UEVENT, 'change');
    const text = await got;
    const env = text.split('\0');
    assert.ok(env.includes('ACTION=change'));
    assert.ok(env.includes('SUBSYSTEM=mem'));
    assert.ok(env.some((f) => /^SEQNUM=\d+$/.test(f)));
  } finally {
    s.close();
  }
});
