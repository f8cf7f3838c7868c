// Where the MSI capability's registers sit, and its Message Control fields.
//
// Message Control decides the layout: with a 64-bit address the data, mask
// and pending registers move up by one dword, and the mask and pending
// registers exist only with per-vector masking. Every reader of the
// capability (the config-space model, the PCI-like view, drivers, lspci-style
// decoding) goes through this one description.

import {
  PCI_MSI_ADDRESS_HI,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_DATA_64,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
  PCI_MSI_MASK_32,
  PCI_MSI_MASK_64,
  PCI_MSI_PENDING_32,
  PCI_MSI_PENDING_64,
} from '../regs.js';

/** Register offsets (relative to the capability) for one Message Control value. */
export interface MsiLayout {
  is64: boolean;
  perVectorMask: boolean;
  /** Capability length: 10, 14, 20 or 24 bytes. */
  length: number;
  addressLo: number;
  /** Upper address dword; undefined for a 32-bit address. */
  addressHi: number | undefined;
  data: number;
  /** Mask and pending offsets; meaningful only with per-vector masking. */
  mask: number;
  pending: number;
}

export function msiLayout(flags: number): MsiLayout {
  const is64 = (flags & PCI_MSI_FLAGS_64BIT) !== 0;
  const perVectorMask = (flags & PCI_MSI_FLAGS_MASKBIT) !== 0;
  return {
    is64,
    perVectorMask,
    length: 10 + (is64 ? 4 : 0) + (perVectorMask ? 10 : 0),
    addressLo: PCI_MSI_ADDRESS_LO,
    addressHi: is64 ? PCI_MSI_ADDRESS_HI : undefined,
    data: is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32,
    mask: is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32,
    pending: is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32,
  };
}

/** Capability length for the given Message Control value (10, 14, 20 or 24). */
export function msiLength(flags: number): number {
  return msiLayout(flags).length;
}

/** log2 of Multiple Message Capable. */
export function msiCapableLog2(flags: number): number {
  return (flags & PCI_MSI_FLAGS_QMASK) >> 1;
}

/** log2 of Multiple Message Enable. */
export function msiEnabledLog2(flags: number): number {
  return (flags & PCI_MSI_FLAGS_QSIZE) >> 4;
}

/** `flags` with Multiple Message Enable replaced by `log2`. */
export function withMsiEnabledLog2(flags: number, log2: number): number {
  return (flags & ~PCI_MSI_FLAGS_QSIZE) | ((log2 << 4) & PCI_MSI_FLAGS_QSIZE);
}

/** Mask of the bits of `vectors` vectors (1..32). */
export function msiVectorBits(vectors: number): number {
  return vectors >= 32 ? 0xffffffff : (1 << vectors) - 1;
}
