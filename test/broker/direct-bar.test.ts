// The broker's direct BAR pieces that need no device: the areas offered
// around the MSI-X table and PBA, exact-width MMIO accesses, and the
// all-ones/drop behaviour of the holes (a regular file stands in for the
// sysfs resource file; the real thing runs in test/guest/root-broker.test.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { areasOutside, DirectBar, MmioWindow } from '../../src/broker/direct-bar.js';
import { PAGE_SIZE } from '../../src/sys/index.js';

test('direct BAR: the areas offered leave out every page the MSI-X table and PBA touch', () => {
  const P = PAGE_SIZE;
  assert.deepEqual(areasOutside(4 * P, []), [{ offset: 0, size: 4 * P }]);
  // Table at 2P (65 entries -> 1040 bytes), PBA at 3P: pages 2 and 3 go.
  assert.deepEqual(
    areasOutside(4 * P, [
      { start: 2 * P, end: 2 * P + 1040 },
      { start: 3 * P, end: 3 * P + 16 },
    ]),
    [{ offset: 0, size: 2 * P }],
  );
  // A table straddling a page boundary takes both pages; holes in any order.
  assert.deepEqual(
    areasOutside(8 * P, [
      { start: 6 * P, end: 6 * P + 8 },
      { start: P + 100, end: 2 * P + 1 },
    ]),
    [
      { offset: 0, size: P },
      { offset: 3 * P, size: 3 * P },
      { offset: 7 * P, size: P },
    ],
  );
  assert.deepEqual(areasOutside(P, [{ start: 0, end: 16 }]), []);
});

test('MMIO window: accesses are split into naturally aligned pieces, little-endian', () => {
  const buf = new ArrayBuffer(64);
  const w = new MmioWindow(buf);
  const bytes = new Uint8Array(buf);
  w.write(4, Uint8Array.of(0x78, 0x56, 0x34, 0x12));
  assert.equal(new Uint32Array(buf)[1], 0x12345678);
  w.write(8, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  assert.equal(new BigUint64Array(buf)[1], 0x0807060504030201n);
  w.write(17, Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd, 0xee)); // 1 + 2 + 2 bytes
  assert.deepEqual([...bytes.subarray(16, 23)], [0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0]);
  const out = new Uint8Array(7);
  w.read(17, out.subarray(0, 5));
  assert.deepEqual([...out.subarray(0, 5)], [0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
  const q = new Uint8Array(8);
  w.read(8, q);
  assert.deepEqual([...q], [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('direct BAR: accesses reach the mapped file; the MSI-X holes read all-ones and drop writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-direct-'));
  try {
    const file = join(dir, 'resource0');
    writeFileSync(file, new Uint8Array(2 * PAGE_SIZE).fill(0x11));
    const bar = DirectBar.open(0, file, 2 * PAGE_SIZE, [{ start: PAGE_SIZE, end: PAGE_SIZE + 32 }]);
    try {
      assert.deepEqual(bar.areas, [{ offset: 0, size: PAGE_SIZE }]);
      bar.write(0, Uint8Array.of(1, 2, 3, 4));
      bar.write(PAGE_SIZE - 2, Uint8Array.of(9, 9, 9, 9)); // two bytes land, two fall in the hole
      const r = new Uint8Array(6);
      bar.read(PAGE_SIZE - 2, r);
      assert.deepEqual([...r], [9, 9, 0xff, 0xff, 0xff, 0xff]);
      bar.read(PAGE_SIZE + 32, r.subarray(0, 2));
      assert.deepEqual([...r.subarray(0, 2)], [0x11, 0x11], 'past the hole: the device');
    } finally {
      bar.close();
    }
    const disk = readFileSync(file);
    assert.deepEqual([...disk.subarray(0, 4)], [1, 2, 3, 4]);
    assert.deepEqual([...disk.subarray(PAGE_SIZE - 2, PAGE_SIZE + 2)], [9, 9, 0x11, 0x11], 'nothing written into the hole');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
