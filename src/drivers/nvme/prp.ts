// Physical Region Page entries (NVMe 1.4 §4.3): how a command names its data.
//
// PRP1 is the address of the first byte (any dword-aligned offset into a
// memory page). If the transfer ends within that page, PRP2 is 0; if it ends
// within the next page, PRP2 is that page's address; otherwise PRP2 points to
// a PRP list: page addresses (offset 0), pageSize/8 entries per list page,
// whose last entry points to the next list page when more entries follow.
// Here the list pages of a command are one contiguous, page-aligned piece of
// DMA memory (preallocated per command slot); buildPrps fills them and
// returns PRP1/PRP2. Pure: no I/O, so it is unit-tested with plain memory.

import { fail } from '../../errors.js';

/** Where a command's PRP list pages live: `pages` page-aligned pages at `iova`, seen through `view` from `offset`. */
export interface PrpListSpace {
  iova: bigint;
  view: DataView;
  offset: number;
  pages: number;
}

/** The PRP entries of one transfer: PRP1, PRP2 (a second page or a list), and the list's pages. */
export interface Prps {
  prp1: bigint;
  prp2: bigint;
  /** Data pages after the first (0 when the transfer fits in one page). */
  pageEntries: number;
  /** List pages used (0 when PRP2 is not a list pointer). */
  listPages: number;
}

/** Memory pages a transfer of `length` bytes at `addr` touches. */
export function pagesSpanned(addr: bigint, length: number, pageSize: number): number {
  if (length <= 0) return 0;
  const off = Number(addr % BigInt(pageSize));
  return Math.ceil((off + length) / pageSize);
}

/** List pages needed to hold `entries` PRP entries (chaining through each page's last entry). */
export function listPagesFor(entries: number, pageSize: number): number {
  const perPage = pageSize / 8;
  if (entries <= 1) return 0; // PRP2 itself
  if (entries <= perPage) return 1;
  return 1 + Math.ceil((entries - perPage) / (perPage - 1));
}

/**
 * Fills PRP1/PRP2 (and the list, when one is needed) for `length` bytes of
 * IOVA-contiguous memory at `addr`. Throws EINVAL for an address that is not
 * dword aligned, an empty transfer, or a list that does not fit in `list`.
 */
export function buildPrps(addr: bigint, length: number, pageSize: number, list?: PrpListSpace, out?: Prps): Prps {
  const r = out ?? { prp1: 0n, prp2: 0n, pageEntries: 0, listPages: 0 };
  if ((addr & 3n) !== 0n) throw fail('EINVAL', `PRP data address 0x${addr.toString(16)} is not dword aligned`);
  if (!(length > 0)) throw fail('EINVAL', `PRP transfer length must be positive, got ${length}`);
  const ps = BigInt(pageSize);
  const firstPage = addr - (addr % ps);
  const entries = pagesSpanned(addr, length, pageSize) - 1;
  r.prp1 = addr;
  r.pageEntries = entries;
  r.listPages = 0;
  if (entries === 0) {
    r.prp2 = 0n;
    return r;
  }
  if (entries === 1) {
    r.prp2 = firstPage + ps;
    return r;
  }
  const need = listPagesFor(entries, pageSize);
  if (!list || need > list.pages) {
    throw fail('EINVAL', `a ${length}-byte transfer needs ${need} PRP list page(s), ${list ? `only ${list.pages}` : 'none'} available`);
  }
  const perPage = pageSize / 8;
  const v = list.view;
  let page = firstPage + ps;
  let slot = 0; // entry index within the current list page
  let listPage = 0;
  for (let i = 0; i < entries; i++) {
    const remaining = entries - i;
    if (slot === perPage - 1 && remaining > 1) {
      // last entry of a full page: chain to the next list page
      listPage++;
      v.setBigUint64(list.offset + (listPage - 1) * pageSize + slot * 8, list.iova + BigInt(listPage * pageSize), true);
      slot = 0;
    }
    v.setBigUint64(list.offset + listPage * pageSize + slot * 8, page, true);
    slot++;
    page += ps;
  }
  r.prp2 = list.iova;
  r.listPages = listPage + 1;
  return r;
}

/**
 * The data pages a PRP pair describes, read back from memory the way a
 * controller walks them (for tests and for device models): the first
 * address, then each page of the list. `readU64(iova)` reads guest memory.
 */
export function walkPrps(prp1: bigint, prp2: bigint, length: number, pageSize: number, readU64: (iova: bigint) => bigint): bigint[] {
  const ps = BigInt(pageSize);
  const out = [prp1];
  const entries = pagesSpanned(prp1, length, pageSize) - 1;
  if (entries === 0) return out;
  if (entries === 1) {
    out.push(prp2);
    return out;
  }
  const perPage = pageSize / 8;
  let ptr = prp2;
  let slot = Number((ptr % ps) / 8n);
  for (let i = 0; i < entries; i++) {
    if (slot === perPage - 1 && entries - i > 1) {
      ptr = readU64(ptr);
      slot = 0;
    }
    out.push(readU64(ptr));
    ptr += 8n;
    slot++;
  }
  return out;
}
