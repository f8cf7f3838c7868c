// A config-space layout: what the engine is built from.
//
// Two producers make one: the builder (a declared device) and layoutFromRaw
// (a raw 256/4096-byte space read from hardware, for the broker or tools).
// A layout holds the power-on "hardware" bytes, the power-on shadow (the same
// bytes with the capability chains relinked around hidden capabilities), the
// hardware write rules for the default in-memory backing, the regions (header
// and capabilities, in chain order) and the BAR/ROM geometry used for sizing.

import type { BarSpec } from './bars.js';
import type { RegionSpec } from './region.js';

/** Config space size: 256 bytes (conventional PCI) or 4096 (PCI Express). */
export type ConfigSize = 256 | 4096;

/**
 * Bytes outside the header and every capability: 'zero' reads 0 and drops
 * writes; 'raw' passes accesses through to the backing (the kernel's default,
 * for devices that hide registers between capabilities).
 */
export type UnassignedPolicy = 'zero' | 'raw';

/** A config space ready for the engine: power-on bytes, shadow, write rules, regions and BAR geometry. */
export interface Layout {
  size: ConfigSize;
  /** Power-on hardware bytes (the default backing's content). */
  hardware: Uint8Array;
  /** Power-on shadow bytes. */
  shadow: Uint8Array;
  /** Hardware-writable bits for the default backing. */
  writable: Uint8Array;
  /** Hardware write-1-to-clear bits for the default backing. */
  w1c: Uint8Array;
  /** Header first, then capabilities in chain order (standard, then extended). */
  regions: RegionSpec[];
  /** Six BAR slots; the upper half of a 64-bit BAR is undefined. */
  bars: (BarSpec | undefined)[];
  romSize: number | undefined;
  unassigned: UnassignedPolicy;
}

/** A capability as the user sees it. */
export interface CapabilityInfo {
  id: number;
  extended: boolean;
  offset: number;
  length: number;
  /** Extended capability version (from the header). */
  version?: number;
}
