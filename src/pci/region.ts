// One region of config space: the header or one capability.
//
// The engine maps every byte of config space to at most one Region. A Region
// owns the permission bits for its bytes and implements reads and writes of
// 1, 2 or 4 aligned bytes that never leave it (the engine has already split
// the user's access). The default behaviour is the kernel's
// vfio_default_config_read/write; capabilities with side effects (PM state
// changes, FLR, MSI enable) subclass it and add their rules around the default.
// Offsets handed to a Region's methods are relative to the region's start.

import type { AccessSize, ConfigBacking } from './backing.js';
import { getLe, setLe, sizeMask } from './le.js';
import { ALL_VIRT, NO_WRITE, PermBits } from './perms.js';
import { PCI_CAP_LIST_ID, PCI_CAP_LIST_NEXT } from './regs.js';

/** What a region of config space is: the header, a standard or an extended capability. */
export type RegionKind = 'header' | 'cap' | 'ecap';

/** Where a region sits. `hidden` marks the placeholder kept for a hidden first extended cap. */
export interface RegionSpec {
  kind: RegionKind;
  /** Capability ID (0 for the header). */
  id: number;
  start: number;
  length: number;
  hidden?: boolean;
  /**
   * Per-byte user write mask for regions whose writability is declared rather
   * than fixed (vendor-specific capabilities), relative to `start`.
   */
  writeMask?: Uint8Array;
}

/** PCI power states D0..D3hot as numbers 0..3 (D3cold is not visible in config space). */
export type PowerState = 0 | 1 | 2 | 3;

/** What caused the engine to reset the function by itself. */
export type ResetSource = 'pcie-flr' | 'af-flr' | 'pm-soft-reset';

/**
 * 'flr': function reset - registers back to their power-on values, but BAR,
 * ROM, command, cache-line/latency and interrupt-line programming kept (the
 * kernel restores them after a reset). 'power-on': everything back to the
 * declared state.
 */
export type ResetKind = 'flr' | 'power-on';

/** Owner notifications. All are called synchronously, after the state changed. */
export interface ConfigSpaceHooks {
  /** The command register's value changed (memory/io/bus-master/INTx-disable). */
  onCommandChange?(command: number, previous: number): void;
  /** The user moved the function to another D-state through PMCSR. */
  onPowerStateChange?(from: PowerState, to: PowerState): void;
  /** The user reset the function through config space; the engine has already reset its registers. */
  onReset?(source: ResetSource): void;
  /** An MSI per-vector mask bit changed (user write of the mask register). */
  onMsiMaskChange?(vector: number, masked: boolean): void;
}

/** What a Region needs from the engine. */
export interface Engine {
  readonly size: number;
  /** The shadow ("vconfig"): virtual bits live here. */
  readonly shadow: Uint8Array;
  readonly backing: ConfigBacking;
  readonly hooks: ConfigSpaceHooks;
  /** Reset the function's registers and tell the owner why. */
  functionReset(source: ResetSource): void;
}

export class Region {
  constructor(
    readonly engine: Engine,
    readonly spec: RegionSpec,
    readonly perm: PermBits,
  ) {}

  get start(): number {
    return this.spec.start;
  }
  get length(): number {
    return this.spec.length;
  }
  get id(): number {
    return this.spec.id;
  }

  /** User read of `count` bytes at region offset `off`. */
  read(off: number, count: AccessSize): number {
    return this.defaultRead(off, count);
  }

  /** User write of `count` bytes at region offset `off`. */
  write(off: number, count: AccessSize, value: number): void {
    this.defaultWrite(off, count, value);
  }

  /** Called after the engine restored shadow and backing to power-on values. */
  reset(_kind: ResetKind): void {}

  /** Backing value outside the virtual bits, shadow inside them. */
  protected defaultRead(off: number, count: AccessSize): number {
    const pos = this.start + off;
    const virt = this.perm.virtMask(off, count);
    const shadow = getLe(this.engine.shadow, pos, count);
    if (virt === sizeMask(count)) return shadow;
    const phys = this.engine.backing.read(pos, count);
    return ((phys & ~virt) | (shadow & virt)) >>> 0;
  }

  /** Only writable bits change: virtual ones in the shadow, the rest read-modify-written to the backing. */
  protected defaultWrite(off: number, count: AccessSize, value: number): void {
    const write = this.perm.writeMask(off, count);
    if (write === NO_WRITE) return;
    const pos = this.start + off;
    const virt = this.perm.virtMask(off, count);
    const v = value >>> 0;
    const wv = (write & virt) >>> 0;
    if (wv) {
      const cur = getLe(this.engine.shadow, pos, count);
      setLe(this.engine.shadow, pos, count, ((cur & ~wv) | (v & wv)) >>> 0);
    }
    const wp = (write & ~virt) >>> 0;
    if (wp) {
      const phys = this.engine.backing.read(pos, count);
      this.engine.backing.write(pos, count, ((phys & ~wp) | (v & wp)) >>> 0);
    }
  }

  // Helpers for subclasses, offsets relative to the region.
  protected shadowGet(off: number, size: AccessSize): number {
    return getLe(this.engine.shadow, this.start + off, size);
  }
  protected shadowSet(off: number, size: AccessSize, value: number): void {
    setLe(this.engine.shadow, this.start + off, size, value);
  }
  protected hwGet(off: number, size: AccessSize): number {
    return this.engine.backing.read(this.start + off, size);
  }
  /** A write as the device would see it (hardware write rules apply). */
  protected hwWrite(off: number, size: AccessSize, value: number): void {
    this.engine.backing.write(this.start + off, size, value);
  }
  /** The effective (user-visible) value of a register, bypassing any read hook. */
  protected effective(off: number, size: AccessSize): number {
    return this.defaultRead(off, size);
  }
}

/** Does an access of `count` bytes at `off` touch byte `reg`? */
export function touches(off: number, count: number, reg: number, regSize = 1): boolean {
  return off < reg + regSize && reg < off + count;
}

/**
 * Permission bits every capability starts from: for a standard capability the
 * ID and next-pointer bytes are virtual and read-only (so hidden capabilities
 * can be linked around); for an extended one the whole header dword is.
 */
export function capPerms(spec: RegionSpec): PermBits {
  const p = new PermBits(spec.length);
  if (spec.kind === 'ecap') p.setd(0, ALL_VIRT, NO_WRITE);
  else if (spec.kind === 'cap') {
    p.setb(PCI_CAP_LIST_ID, 0xff, NO_WRITE);
    p.setb(PCI_CAP_LIST_NEXT, 0xff, NO_WRITE);
  }
  return p;
}
