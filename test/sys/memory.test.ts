// memfd and mmap: shared file mappings see each other's writes, the address is
// a nonzero page-aligned bigint, explicit unmap detaches every view (length 0,
// reads undefined, DataView throws: never a segfault), double unmap is
// harmless, collection unmaps, and bad input is a SysError/RangeError/TypeError.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SysError } from '../../src/errors.js';
import { MemFd, Mapping, PAGE_SIZE, PROT_READ, PROT_WRITE, memfdCreate } from '../../src/sys/memory.js';
import { native } from '../../src/sys/native.js';
import { isCloexec, isMapped, openFdCount, runChild } from './helpers.js';

const isSys =
  (code: string) =>
  (err: unknown): boolean =>
    err instanceof SysError && err.code === code;

test('two mappings of one memfd share their pages', () => {
  const before = openFdCount();
  const mem = MemFd.create('shared', 2 * PAGE_SIZE);
  try {
    assert.ok(isCloexec(mem.fd));
    assert.equal(mem.size, 2 * PAGE_SIZE);
    const a = mem.map();
    const b = Mapping.map(mem.fd, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE);
    assert.equal(a.length, 2 * PAGE_SIZE);
    a.bytes()[100] = 42;
    new DataView(a.buffer).setUint32(PAGE_SIZE, 0xdeadbeef, true);
    assert.equal(b.bytes()[100], 42);
    assert.equal(new Uint32Array(b.buffer, PAGE_SIZE, 1)[0], 0xdeadbeef);
    // A second-page mapping at a bigint offset sees the same bytes.
    const c = mem.map(BigInt(PAGE_SIZE), PAGE_SIZE);
    assert.equal(new Uint32Array(c.buffer)[0], 0xdeadbeef);
    for (const m of [a, b, c]) assert.equal(m.unmap(), true);
  } finally {
    mem.close();
  }
  assert.equal(openFdCount(), before);
});

test('the address is a nonzero page-aligned bigint listed in /proc/self/maps', () => {
  const m = Mapping.anonymous(3 * PAGE_SIZE);
  assert.equal(typeof m.address, 'bigint');
  assert.notEqual(m.address, 0n);
  assert.equal(m.address % BigInt(PAGE_SIZE), 0n);
  assert.equal(native.addressOf(m.bytes(8)), m.address + 8n);
  assert.ok(isMapped(m.address));
  m.unmap();
  assert.equal(isMapped(m.address), false);
});

test('unmap detaches every view: no access reaches the unmapped pages', () => {
  const m = Mapping.anonymous(PAGE_SIZE);
  const bytes = new Uint8Array(m.buffer);
  const words = new Uint32Array(m.buffer, 8, 4);
  const dv = new DataView(m.buffer);
  bytes[0] = 7;
  assert.equal(m.mapped, true);
  assert.equal(m.unmap(), true);
  assert.equal(m.mapped, false);
  assert.equal(m.buffer.byteLength, 0);
  assert.equal(bytes.length, 0);
  assert.equal(bytes[0], undefined);
  assert.equal(words.length, 0);
  bytes[0] = 1; // ignored, not a fault
  assert.equal(bytes[0], undefined);
  assert.throws(() => dv.getUint8(0), TypeError);
  assert.throws(() => m.bytes(), TypeError);
  // The addon treats the detached buffer as empty.
  assert.equal(native.addressOf(m.buffer), 0n);
  assert.throws(() => native.pread(0, bytes, 0, 1, 0), RangeError);
  // Double unmap is harmless.
  assert.equal(m.unmap(), false);
  assert.equal(native.munmap(m.buffer), false);
});

test('anonymous mappings are zeroed and writable; shared ones too', () => {
  for (const shared of [false, true]) {
    const m = Mapping.anonymous(2 * PAGE_SIZE, { shared });
    const u = m.bytes();
    assert.equal(
      u.every((x) => x === 0),
      true,
    );
    u.fill(0xab);
    assert.equal(u[2 * PAGE_SIZE - 1], 0xab);
    m.unmap();
  }
});

test('a collected mapping is unmapped by its finalizer', async () => {
  const r = await runChild(
    `
    import { readFileSync } from 'node:fs';
    const isMapped = (a) => readFileSync('/proc/self/maps', 'utf8').split('\\n').some((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
      return m && a >= BigInt('0x' + m[1]) && a < BigInt('0x' + m[2]);
    });
    let m = sys.Mapping.anonymous(1 << 20);
    const address = m.address;
    m.bytes().fill(1);
    console.log('before', isMapped(address));
    m = null;
    for (let i = 0; i < 10 && isMapped(address); i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log('after', isMapped(address));
  `,
    { nodeArgs: ['--expose-gc'] },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /before true/);
  assert.match(r.stdout, /after false/);
});

test('an unmapped-then-collected mapping is not unmapped twice', async () => {
  const r = await runChild(
    `
    for (let i = 0; i < 2000; i++) {
      const m = sys.Mapping.anonymous(65536);
      m.unmap();
      // Fill the freed address range again so that a stray second munmap would hit it.
      const n = sys.Mapping.anonymous(65536);
      n.bytes()[0] = 1;
      if (i % 200 === 0) globalThis.gc();
      n.unmap();
    }
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 20));
    const keep = sys.Mapping.anonymous(65536);
    keep.bytes().fill(3);
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 20));
    console.log('ok', keep.bytes()[100]);
  `,
    { nodeArgs: ['--expose-gc'] },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok 3/);
});

test('mmap errors', () => {
  const mem = MemFd.create('errors', PAGE_SIZE);
  try {
    assert.throws(() => Mapping.map(-1, 0, PAGE_SIZE), isSys('EBADF'));
    assert.throws(() => Mapping.map(mem.fd, 1, PAGE_SIZE), isSys('EINVAL'), 'unaligned offset');
    assert.throws(() => Mapping.map(mem.fd, 0, 0), RangeError);
    assert.throws(() => Mapping.map(mem.fd, 0, 2 ** 32 + 1), RangeError);
    assert.throws(() => Mapping.map(mem.fd, 0, PAGE_SIZE, 4 /* PROT_EXEC */), RangeError);
    assert.throws(() => Mapping.map(mem.fd, -1, PAGE_SIZE), RangeError);
    assert.throws(() => Mapping.map(mem.fd, 'x' as never, PAGE_SIZE), TypeError);
    assert.throws(() => Mapping.anonymous(-5), RangeError);
    assert.throws(() => native.munmap(new ArrayBuffer(16)), TypeError, 'not made by mmap');
    assert.throws(() => native.munmap(new Uint8Array(4) as never), TypeError);
    const fd = native.open('/etc/hostname', 0);
    try {
      assert.throws(() => Mapping.map(fd, 0, PAGE_SIZE, PROT_READ | PROT_WRITE), isSys('EACCES'), 'read-only fd');
    } finally {
      native.close(fd);
    }
  } finally {
    mem.close();
  }
});

test('memfd flags, resize, closed memfd', () => {
  const fd = memfdCreate('sealable', { allowSealing: true });
  native.close(fd);
  assert.throws(() => memfdCreate('x'.repeat(250)), RangeError, 'name longer than the kernel allows');
  const ro = MemFd.create('read-only', PAGE_SIZE);
  const view = ro.map(0, PAGE_SIZE, PROT_READ);
  assert.equal(view.writable, false);
  assert.equal(view.bytes()[0], 0);
  view.unmap();
  ro.close();
  try {
    native.close(memfdCreate('huge', { hugetlb: '2MB' }));
  } catch (err) {
    // Without huge pages configured the kernel refuses; it must say so as a SysError.
    assert.ok(err instanceof SysError, String(err));
  }
  const mem = MemFd.create('resize', 0);
  assert.equal(mem.size, 0);
  mem.resize(3 * PAGE_SIZE);
  assert.equal(mem.size, 3 * PAGE_SIZE);
  const m = mem.map();
  mem.close();
  // The mapping outlives the fd.
  m.bytes()[0] = 9;
  assert.equal(m.bytes()[0], 9);
  m.unmap();
  mem.close();
  assert.throws(() => mem.size, isSys('EBADF'));
  assert.throws(() => mem.map(), isSys('EBADF'));
});
