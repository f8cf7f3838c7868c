// PRP construction (NVMe 1.4 §4.3) for various offsets and lengths, checked by
// walking the result the way a controller does and against the rules: PRP1
// carries the offset, PRP2 is 0 / the second page / a list pointer, list
// entries are page addresses, a full list page chains through its last entry.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPrps, listPagesFor, pagesSpanned, walkPrps, type PrpListSpace } from '../../src/drivers/nvme/prp.js';

const PAGE = 4096;
const LIST_IOVA = 0x7000_0000n;

function listSpace(pages: number): PrpListSpace & { bytes: Uint8Array } {
  const bytes = new Uint8Array(pages * PAGE);
  return { iova: LIST_IOVA, view: new DataView(bytes.buffer), offset: 0, pages, bytes };
}

function reader(list: { bytes: Uint8Array }) {
  const v = new DataView(list.bytes.buffer);
  return (iova: bigint): bigint => {
    const off = Number(iova - LIST_IOVA);
    assert.ok(off >= 0 && off + 8 <= list.bytes.length, `controller reads 0x${iova.toString(16)} inside the list`);
    return v.getBigUint64(off, true);
  };
}

/** The page addresses a transfer must produce. */
function expected(addr: bigint, length: number): bigint[] {
  const out = [addr];
  const first = addr - (addr % BigInt(PAGE));
  for (let i = 1; i < pagesSpanned(addr, length, PAGE); i++) out.push(first + BigInt(i * PAGE));
  return out;
}

test('one page: PRP2 is 0', () => {
  for (const [addr, len] of [
    [0x10000n, 4096],
    [0x10000n, 512],
    [0x10ff0n, 16],
    [0x10004n, 4092],
  ] as const) {
    const r = buildPrps(addr, len, PAGE);
    assert.equal(r.prp1, addr);
    assert.equal(r.prp2, 0n);
    assert.equal(r.listPages, 0);
  }
});

test('two pages: PRP2 is the second page, whatever the offset', () => {
  for (const [addr, len] of [
    [0x10000n, 8192],
    [0x10200n, 4096],
    [0x10ffcn, 8],
    [0x10800n, 6000],
  ] as const) {
    const r = buildPrps(addr, len, PAGE);
    assert.equal(r.prp1, addr);
    assert.equal(r.prp2, 0x11000n, `${addr.toString(16)}+${len}`);
    assert.equal(r.pageEntries, 1);
    assert.equal(r.listPages, 0);
  }
});

test('PRP lists for aligned and unaligned transfers up to 2 MiB, walked like a controller', () => {
  for (const offset of [0, 4, 512, 4092]) {
    for (const len of [8193, 12288, 65536, 128 * 1024, 512 * 1024, 2 * 1024 * 1024 - offset]) {
      const addr = 0x4000_0000n + BigInt(offset);
      const list = listSpace(2);
      const r = buildPrps(addr, len, PAGE, list);
      const pages = walkPrps(r.prp1, r.prp2, len, PAGE, reader(list));
      assert.deepEqual(pages, expected(addr, len), `offset ${offset}, ${len} bytes`);
      assert.equal(r.prp2, LIST_IOVA, 'PRP2 points to the list');
      for (const p of pages.slice(1)) assert.equal(p % BigInt(PAGE), 0n, 'list entries have no offset');
      assert.equal(r.listPages, listPagesFor(pages.length - 1, PAGE));
    }
  }
});

test('a list longer than one page chains through the last entry of each full page', () => {
  const len = 600 * PAGE; // 599 list entries: 511 on the first page + chain pointer, 88 on the second
  const list = listSpace(2);
  const r = buildPrps(0x1000_0000n, len, PAGE, list);
  assert.equal(r.listPages, 2);
  const v = list.view;
  assert.equal(v.getBigUint64(511 * 8, true), LIST_IOVA + BigInt(PAGE), 'last entry of page 0 points to page 1');
  assert.equal(v.getBigUint64(0, true), 0x1000_1000n);
  assert.equal(v.getBigUint64(510 * 8, true), 0x1000_0000n + 511n * 4096n);
  assert.equal(v.getBigUint64(PAGE, true), 0x1000_0000n + 512n * 4096n, 'page 1 continues');
  assert.deepEqual(walkPrps(r.prp1, r.prp2, len, PAGE, reader(list)), expected(0x1000_0000n, len));
  // exactly 512 entries fit in one page: no chain
  const one = listSpace(1);
  assert.equal(buildPrps(0x1000_0000n, 513 * PAGE, PAGE, one).listPages, 1);
  assert.deepEqual(walkPrps(0x1000_0000n, LIST_IOVA, 513 * PAGE, PAGE, reader(one)), expected(0x1000_0000n, 513 * PAGE));
});

test('list page arithmetic', () => {
  assert.equal(listPagesFor(1, PAGE), 0);
  assert.equal(listPagesFor(2, PAGE), 1);
  assert.equal(listPagesFor(512, PAGE), 1);
  assert.equal(listPagesFor(513, PAGE), 2);
  assert.equal(listPagesFor(512 + 511, PAGE), 2);
  assert.equal(listPagesFor(512 + 512, PAGE), 3);
  assert.equal(pagesSpanned(0x1000n, 4096, PAGE), 1);
  assert.equal(pagesSpanned(0x1001n, 4096, PAGE), 2);
  assert.equal(pagesSpanned(0x1000n, 0, PAGE), 0);
});

test('a list space at an offset inside a bigger buffer, and other page sizes', () => {
  const bytes = new Uint8Array(4 * 8192);
  const list: PrpListSpace = { iova: 0x9000_0000n + 16384n, view: new DataView(bytes.buffer), offset: 16384, pages: 1 };
  const r = buildPrps(0x2000_0000n, 5 * 8192, 8192, list);
  assert.equal(r.prp2, 0x9000_0000n + 16384n);
  const v = new DataView(bytes.buffer);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => v.getBigUint64(16384 + i * 8, true)),
    [1n, 2n, 3n, 4n].map((i) => 0x2000_0000n + i * 8192n),
  );
  assert.equal(v.getBigUint64(0, true), 0n, 'nothing written before the slot’s list');
});

test('refusals: unaligned address, empty transfer, list too small or missing', () => {
  assert.throws(() => buildPrps(0x1002n, 512, PAGE), { code: 'EINVAL' });
  assert.throws(() => buildPrps(0x1000n, 0, PAGE), { code: 'EINVAL' });
  assert.throws(() => buildPrps(0x1000n, 3 * PAGE, PAGE), /needs 1 PRP list page\(s\), none available/);
  assert.throws(() => buildPrps(0x1000n, 600 * PAGE, PAGE, listSpace(1)), /needs 2 PRP list page\(s\), only 1/);
});
