// Plain fd operations: open/close/dup with O_CLOEXEC, pread/pwrite at 64-bit
// offsets, ioctl with integer and in-place buffer arguments, poll, and the
// ioctl request encoding; EBADF on bad or closed fds, no fd leaks.

import assert from 'node:assert/strict';
import { constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SysError } from '../../src/errors.js';
import {
  IO,
  IOR,
  IOW,
  IOWR,
  POLLIN,
  POLLOUT,
  closeFd,
  dupFd,
  fstatSize,
  ftruncate,
  ioctl,
  openFd,
  pollFd,
  pread,
  pwrite,
  setNonblocking,
} from '../../src/sys/fd.js';
import { native } from '../../src/sys/native.js';
import { cdevIoctl, iommufdIoctl, vfioIoctl } from '../../src/uapi/vfio.js';
import { isCloexec, isOpen, openFdCount, tempDir } from './helpers.js';

const FIONREAD = 0x541b;
const TCGETS = 0x5401;

const isSys =
  (code: string, syscall?: string) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof SysError, `expected SysError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (syscall) assert.equal(err.syscall, syscall);
    return true;
  };

test('open, pwrite, pread at number and bigint offsets, close', () => {
  const { dir, cleanup } = tempDir();
  const before = openFdCount();
  try {
    const fd = openFd(join(dir, 'f'), constants.O_RDWR | constants.O_CREAT, 0o600);
    assert.ok(isCloexec(fd), 'O_CLOEXEC is always added');
    assert.equal(pwrite(fd, Buffer.from('hello world'), 10), 11);
    const out = Buffer.alloc(5);
    assert.equal(pread(fd, out, 16), 5);
    assert.equal(out.toString(), 'world');
    // Offsets past 2^32 (VFIO region offsets are index << 40) as bigint and number.
    const far = 2n ** 40n + 3n;
    assert.equal(pwrite(fd, Uint8Array.of(1, 2, 3, 4), far), 4);
    assert.equal(fstatSize(fd), Number(far) + 4);
    const view = new Uint8Array(8);
    assert.equal(pread(fd, view, Number(far) - 1, 2, 3), 3, 'range [2, 5) of the view');
    assert.deepEqual([...view], [0, 0, 0, 1, 2, 0, 0, 0]);
    assert.equal(pread(fd, view, far + 100n), 0, 'end of file');
    ftruncate(fd, 4);
    assert.equal(fstatSize(fd), 4);
    closeFd(fd);
    assert.equal(isOpen(fd), false);
    assert.throws(() => closeFd(fd), isSys('EBADF', 'close'));
  } finally {
    cleanup();
  }
  assert.equal(openFdCount(), before);
});

test('pread/pwrite into views of other types and ranges', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'g'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const fd = openFd(join(dir, 'g'), constants.O_RDONLY);
    const words = new Uint32Array(2);
    assert.equal(pread(fd, words, 0), 8);
    assert.equal(words[0], 0x04030201);
    const dv = new DataView(new ArrayBuffer(4));
    assert.equal(pread(fd, dv, 4), 4);
    assert.equal(dv.getUint8(0), 5);
    assert.throws(() => pread(fd, new Uint8Array(4), 0, 2, 3), RangeError);
    assert.throws(() => pwrite(fd, new Uint8Array(4), 0), isSys('EBADF', 'pwrite'), 'read-only fd');
    closeFd(fd);
  } finally {
    cleanup();
  }
});

test('open errors are SysErrors; NUL in a path is a RangeError', () => {
  assert.throws(() => openFd('/nonexistent/x', constants.O_RDONLY), isSys('ENOENT', 'open'));
  assert.throws(() => openFd('/tmp\0x', constants.O_RDONLY), RangeError);
  assert.throws(() => openFd('/etc/hostname', constants.O_RDONLY | constants.O_DIRECTORY), isSys('ENOTDIR'));
});

test('bad and closed fds give EBADF everywhere', () => {
  const fd = openFd('/dev/null', constants.O_RDWR);
  closeFd(fd);
  const buf = new Uint8Array(4);
  for (const bad of [fd, -1, 1 << 30]) {
    assert.throws(() => pread(bad, buf, 0), isSys('EBADF', 'pread'));
    assert.throws(() => pwrite(bad, buf, 0), isSys('EBADF', 'pwrite'));
    assert.throws(() => ioctl(bad, FIONREAD, buf), isSys('EBADF', 'ioctl'));
    assert.throws(() => dupFd(bad), isSys('EBADF', 'dup'));
    assert.throws(() => pollFd(bad, POLLIN, 0), isSys('EBADF', 'poll'));
    assert.throws(() => fstatSize(bad), isSys('EBADF', 'fstat'));
    assert.throws(() => setNonblocking(bad), isSys('EBADF', 'fcntl'));
  }
});

test('dup gives an independent O_CLOEXEC fd', () => {
  const fd = openFd('/dev/null', constants.O_RDONLY);
  const copy = dupFd(fd);
  assert.notEqual(copy, fd);
  assert.ok(isCloexec(copy));
  closeFd(fd);
  assert.ok(isOpen(copy));
  closeFd(copy);
});

test('ioctl with a buffer argument: the kernel writes it in place', () => {
  const [a, b] = native.socketpair();
  try {
    native.sendmsg(a, Buffer.from('12345'), 0, 5);
    const count = new Int32Array(1);
    assert.equal(ioctl(b, FIONREAD, count), 0);
    assert.equal(count[0], 5);
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

test('ioctl errors: ENOTTY on a regular file, RangeError for a too-small sized argument', () => {
  const fd = openFd('/etc/hostname', constants.O_RDONLY);
  try {
    assert.throws(
      () => ioctl(fd, TCGETS, new Uint8Array(64)),
      (err: unknown) => {
        assert.ok(err instanceof SysError);
        assert.equal(err.code, 'ENOTTY');
        assert.match(err.message, /0x5401/);
        return true;
      },
    );
    // An _IOR request encodes its size: a smaller buffer never reaches the kernel.
    assert.throws(() => ioctl(fd, IOR('x', 1, 16), new Uint8Array(8)), RangeError);
    // An integer argument is passed as is.
    assert.throws(() => ioctl(fd, TCGETS, 0), isSys('ENOTTY'));
    assert.throws(() => ioctl(fd, TCGETS, 'x' as never), TypeError);
  } finally {
    closeFd(fd);
  }
});

/** A buffer whose first u32 (VFIO's argsz, iommufd's size) is `argsz`. */
function sized(length: number, argsz: number): Uint8Array {
  const buf = new Uint8Array(length);
  new DataView(buf.buffer).setUint32(0, argsz, true);
  return buf;
}

// /dev/null answers every ioctl with ENOTTY: EINVAL can only come from the
// addon's own check, before the kernel is called.
test('a VFIO or iommufd buffer shorter than its argsz gets EINVAL without reaching the kernel', () => {
  const fd = openFd('/dev/null', constants.O_RDONLY);
  try {
    const einval = (detail: RegExp) => (err: unknown) => isSys('EINVAL', 'ioctl')(err) && detail.test((err as Error).message);
    for (const request of [
      vfioIoctl.DEVICE_GET_INFO,
      vfioIoctl.DEVICE_GET_REGION_INFO,
      vfioIoctl.DEVICE_SET_IRQS,
      vfioIoctl.GROUP_GET_STATUS,
      vfioIoctl.IOMMU_MAP_DMA,
      vfioIoctl.DEVICE_FEATURE,
      cdevIoctl.DEVICE_BIND_IOMMUFD,
      iommufdIoctl.IOAS_MAP,
      iommufdIoctl.DESTROY,
    ]) {
      assert.throws(() => ioctl(fd, request, sized(16, 17)), einval(/argsz 17 exceeds the 16-byte buffer/), `0x${request.toString(16)}`);
      assert.throws(() => ioctl(fd, request, new Uint8Array(3)), einval(/cannot hold argsz/));
      // The same request with an honest argsz goes to the kernel.
      assert.throws(() => ioctl(fd, request, sized(16, 16)), isSys('ENOTTY'));
      assert.throws(() => ioctl(fd, request, sized(32, 16)), isSys('ENOTTY'), 'a buffer longer than argsz is fine');
    }
    // The argsz is read from the view's own bytes, not from its ArrayBuffer's start.
    const backing = sized(64, 8);
    assert.throws(() => ioctl(fd, vfioIoctl.DEVICE_GET_INFO, backing.subarray(56)), isSys('ENOTTY'));
    assert.throws(
      () => ioctl(fd, vfioIoctl.DEVICE_GET_INFO, new DataView(sized(16, 12).buffer, 8, 8)),
      isSys('ENOTTY'),
      'bytes 8..12 are 0: argsz 0',
    );
  } finally {
    closeFd(fd);
  }
});

test('VFIO requests without an argsz struct keep their arguments: int, int *, char *, none', () => {
  const fd = openFd('/dev/null', constants.O_RDONLY);
  try {
    assert.throws(() => ioctl(fd, vfioIoctl.GET_API_VERSION), isSys('ENOTTY'));
    assert.throws(() => ioctl(fd, vfioIoctl.CHECK_EXTENSION, 3), isSys('ENOTTY'));
    assert.throws(() => ioctl(fd, vfioIoctl.SET_IOMMU, 3), isSys('ENOTTY'));
    assert.throws(() => ioctl(fd, vfioIoctl.DEVICE_RESET), isSys('ENOTTY'));
    assert.throws(() => ioctl(fd, vfioIoctl.GROUP_UNSET_CONTAINER), isSys('ENOTTY'));
    // int *: an fd number, not a size.
    assert.throws(() => ioctl(fd, vfioIoctl.GROUP_SET_CONTAINER, Int32Array.of(1000)), isSys('ENOTTY'));
    // char *: the device name, whose first bytes read as a huge argsz.
    assert.throws(() => ioctl(fd, vfioIoctl.GROUP_GET_DEVICE_FD, Buffer.from('0000:00:04.0\0')), isSys('ENOTTY'));
  } finally {
    closeFd(fd);
  }
});

test('ioctl request encoding matches the kernel headers', () => {
  assert.equal(IO(';', 100), 0x3b64); // VFIO_GET_API_VERSION
  assert.equal(IO(';', 101), 0x3b65); // VFIO_CHECK_EXTENSION
  assert.equal(IOR('f', 1, 8), 0x80086601); // FS_IOC_GETFLAGS on 64-bit
  assert.equal(IOW('f', 2, 8), 0x40086602); // FS_IOC_SETFLAGS
  assert.equal(IOWR('U', 0, 4), 0xc0045500);
  assert.throws(() => IOR('x', 256, 4), RangeError);
  assert.throws(() => IOR('x', 1, 0x4000), RangeError);
});

test('pollFd reports readiness and times out with 0', () => {
  const [a, b] = native.socketpair();
  try {
    assert.equal(pollFd(a, POLLOUT, 0) & POLLOUT, POLLOUT);
    const t0 = performance.now();
    assert.equal(pollFd(b, POLLIN, 30), 0);
    assert.ok(performance.now() - t0 >= 25);
    native.sendmsg(a, Uint8Array.of(1), 0, 1);
    assert.equal(pollFd(b, POLLIN, -1) & POLLIN, POLLIN);
  } finally {
    closeFd(a);
    closeFd(b);
  }
});

test('setNonblocking toggles O_NONBLOCK', () => {
  const fd = openFd('/dev/null', constants.O_RDONLY);
  try {
    setNonblocking(fd, true);
    setNonblocking(fd, false);
  } finally {
    closeFd(fd);
  }
});
