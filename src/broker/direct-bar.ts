// Direct BAR mapping for the broker's clients (opt-in: `--mmap`).
//
// A BAR's sysfs resource file (/sys/bus/pci/devices/BDF/resourceN) can be
// mmapped by its owner (root) and its descriptor handed to a client, who then
// reaches the BAR with plain loads and stores. Two facts of Linux shape how
// the broker uses it:
//
// - On kernels built with CONFIG_IO_STRICT_DEVMEM (Debian's), a BAR that a
//   driver has claimed cannot be mapped through sysfs, and claiming it revokes
//   every such mapping (later accesses raise SIGBUS). vfio-pci claims a BAR
//   the first time it is read, written or mmapped through the device fd. So
//   while a BAR is direct, the broker never touches it through the device fd:
//   its own REGION_READ/WRITE forwarding goes through its own sysfs mapping.
// - That claim is also how access is revoked: when the owner leaves, the
//   broker maps a page of the BAR through the device fd, vfio-pci claims the
//   BAR, and the kernel unmaps the client's mapping wherever it is. Closing
//   the device releases the claim, so the next owner can map it again.
//
// The MSI-X table and PBA are left out of the sparse areas offered, and
// REGION_READ/WRITE there read all-ones and drop writes, as vfio-pci does.
// The client's descriptor still covers the whole BAR, so a BAR holding the
// table is offered only where the kernel says the table may be mapped
// (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: interrupt remapping contains what a
// table write could do); elsewhere that BAR stays message-only.

import { closeFd, Mapping, openFd, PAGE_SIZE, PROT_READ, PROT_WRITE } from '../sys/index.js';
import type { MmapArea } from '../uapi/types.js';

/** Exact-width accesses to mapped device memory: each naturally aligned piece is one load or store. */
export class MmioWindow {
  readonly size: number;
  readonly #u8: Uint8Array;
  readonly #u16: Uint16Array;
  readonly #u32: Uint32Array;
  readonly #u64: BigUint64Array;

  constructor(buffer: ArrayBuffer) {
    this.size = buffer.byteLength;
    this.#u8 = new Uint8Array(buffer);
    this.#u16 = new Uint16Array(buffer, 0, this.size >>> 1);
    this.#u32 = new Uint32Array(buffer, 0, this.size >>> 2);
    this.#u64 = new BigUint64Array(buffer, 0, Math.floor(this.size / 8));
  }

  /** The widest naturally aligned piece at `off` that fits in `left` bytes. */
  static #piece(off: number, left: number): 1 | 2 | 4 | 8 {
    if ((off & 7) === 0 && left >= 8) return 8;
    if ((off & 3) === 0 && left >= 4) return 4;
    if ((off & 1) === 0 && left >= 2) return 2;
    return 1;
  }

  read(off: number, dst: Uint8Array): void {
    for (let i = 0; i < dst.length; ) {
      const at = off + i;
      const n = MmioWindow.#piece(at, dst.length - i);
      if (n === 8) {
        const v = this.#u64[at >>> 3]!;
        for (let k = 0; k < 8; k++) dst[i + k] = Number((v >> BigInt(8 * k)) & 0xffn);
      } else {
        const v = n === 4 ? this.#u32[at >>> 2]! : n === 2 ? this.#u16[at >>> 1]! : this.#u8[at]!;
        for (let k = 0; k < n; k++) dst[i + k] = (v >>> (8 * k)) & 0xff;
      }
      i += n;
    }
  }

  write(off: number, src: Uint8Array): void {
    for (let i = 0; i < src.length; ) {
      const at = off + i;
      const n = MmioWindow.#piece(at, src.length - i);
      if (n === 8) {
        let v = 0n;
        for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(src[i + k]!);
        this.#u64[at >>> 3] = v;
      } else {
        let v = 0;
        for (let k = n - 1; k >= 0; k--) v = v * 256 + src[i + k]!;
        if (n === 4) this.#u32[at >>> 2] = v;
        else if (n === 2) this.#u16[at >>> 1] = v;
        else this.#u8[at] = v;
      }
      i += n;
    }
  }
}

/** [start, end) byte ranges of a BAR the client must not reach (MSI-X table, PBA). */
export interface Hole {
  start: number;
  end: number;
}

/** The page-aligned areas of a `size`-byte BAR outside `holes` (each hole widened to whole pages). */
export function areasOutside(size: number, holes: readonly Hole[]): MmapArea[] {
  const page = PAGE_SIZE;
  const cut = holes
    .map((h) => ({ start: Math.floor(h.start / page) * page, end: Math.min(size, Math.ceil(h.end / page) * page) }))
    .sort((a, b) => a.start - b.start);
  const areas: MmapArea[] = [];
  let pos = 0;
  for (const h of cut) {
    if (h.start > pos) areas.push({ offset: pos, size: h.start - pos });
    pos = Math.max(pos, h.end);
  }
  if (pos < size) areas.push({ offset: pos, size: size - pos });
  return areas;
}

/** One BAR served directly: the resource file's descriptor (for clients) and the broker's own mapping. */
export class DirectBar {
  readonly index: number;
  readonly size: number;
  readonly fd: number;
  readonly areas: MmapArea[];
  readonly holes: readonly Hole[];
  readonly #mapping: Mapping;
  readonly mmio: MmioWindow;

  private constructor(index: number, size: number, fd: number, mapping: Mapping, holes: readonly Hole[]) {
    this.index = index;
    this.size = size;
    this.fd = fd;
    this.#mapping = mapping;
    this.mmio = new MmioWindow(mapping.buffer);
    this.holes = holes;
    this.areas = areasOutside(size, holes);
  }

  /** Opens and maps `resourceFile` (must be `size` bytes of BAR `index`). */
  static open(index: number, resourceFile: string, size: number, holes: readonly Hole[]): DirectBar {
    const fd = openFd(resourceFile);
    try {
      const mapping = Mapping.map(fd, 0n, size, PROT_READ | PROT_WRITE);
      return new DirectBar(index, size, fd, mapping, holes);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /** Whether [off, off + length) touches a hole. */
  #inHole(off: number, length: number): boolean {
    return this.holes.some((h) => off < h.end && off + length > h.start);
  }

  read(off: number, dst: Uint8Array): void {
    if (!this.#inHole(off, dst.length)) return this.mmio.read(off, dst);
    // Byte by byte around the holes: all-ones inside, the device outside.
    for (let i = 0; i < dst.length; i++) {
      if (this.#inHole(off + i, 1)) dst[i] = 0xff;
      else this.mmio.read(off + i, dst.subarray(i, i + 1));
    }
  }

  write(off: number, src: Uint8Array): void {
    if (!this.#inHole(off, src.length)) return this.mmio.write(off, src);
    for (let i = 0; i < src.length; i++) if (!this.#inHole(off + i, 1)) this.mmio.write(off + i, src.subarray(i, i + 1));
  }

  /** Unmaps the broker's mapping and closes the descriptor (clients' mappings are revoked separately). */
  close(): void {
    this.#mapping.unmap();
    try {
      closeFd(this.fd);
    } catch {
      // already closed
    }
  }
}
