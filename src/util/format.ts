// Number formatting shared by every layer's messages and listings.

/** `n` in hex, zero-padded to `width` digits, without a prefix (lspci's style: `8086`, `00:03.0`). */
export function hexDigits(n: number | bigint, width = 0): string {
  const v = typeof n === 'number' && n < 0 ? n >>> 0 : n;
  return v.toString(16).padStart(width, '0');
}

/** `n` in hex with a `0x` prefix, zero-padded to `width` digits. */
export function hex(n: number | bigint, width = 0): string {
  return `0x${hexDigits(n, width)}`;
}
