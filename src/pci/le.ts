// Little-endian field access on byte arrays: PCI configuration space is a
// little-endian byte array, and every register value in this engine is an
// unsigned number assembled from 1, 2 or 4 bytes of it.

/** Unsigned little-endian value of `size` (1..4) bytes at `off`. */
export function getLe(bytes: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (bytes[off + i] ?? 0);
  return v;
}

/** Store the low `size` (1..4) bytes of `value` little-endian at `off`. */
export function setLe(bytes: Uint8Array, off: number, size: number, value: number): void {
  let v = value >>> 0;
  for (let i = 0; i < size; i++) {
    bytes[off + i] = v & 0xff;
    v >>>= 8;
  }
}

/** Mask of the low `size` bytes: 0xff, 0xffff, 0xffffff or 0xffffffff. */
export function sizeMask(size: number): number {
  return size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
}

/** Round `n` up to a multiple of 4. */
export function roundUp4(n: number): number {
  return (n + 3) & ~3;
}
