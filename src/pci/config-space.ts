// The config-space access engine: a PCI function's config space as Linux's
// vfio-pci presents it to a user.
//
// Model: a shadow copy ("vconfig") plus a backing (the device, or an
// in-memory stand-in), and a map from every byte to the region (header or
// capability) that owns it. A user access of any length is chopped into
// aligned pieces of 4, else 2, else 1 bytes that cross neither a dword nor a
// region boundary (the kernel's vfio_config_do_rw), and each piece goes to its
// region, which applies the per-bit virt/write permissions and any side
// effect. Bytes outside every region read 0 and drop writes, or pass through
// to the backing when the layout says 'raw'. An access that does not fit in
// the config space is refused with EINVAL (the kernel answers EFAULT on its
// file descriptor; over vfio-user EINVAL is the natural errno) before any
// byte is touched.
//
// The engine also gives the owner (the vfio-user server, later the broker)
// what it needs to implement the rest of a device: command-register state and
// notifications, BAR geometry and programmed addresses, the power state, the
// interrupt API for MSI/MSI-X (enable only through it, as SET_IRQS does),
// INTx status, the MSI-X table, and reset.

import { ErrnoError } from '../errors.js';
import { MemoryBacking, type AccessSize, type ConfigBacking } from './backing.js';
import { barOffset, decodeBar, type BarSpec } from './bars.js';
import { recordAerError } from './caps/aer.js';
import type { AfRegion } from './caps/af.js';
import type { MsiRegion, MsiState, MsiVector } from './caps/msi.js';
import type { MsixRegion, MsixInfo } from './caps/msix.js';
import type { PcieRegion } from './caps/pcie.js';
import type { PmRegion } from './caps/pm.js';
import { createCapRegion } from './caps/registry.js';
import { HeaderRegion } from './header.js';
import type { CapabilityInfo, Layout } from './layout.js';
import { getLe, setLe } from './le.js';
import { MsixTable, type MsixTableHooks } from './msix-table.js';
import { layoutFromRaw, type RawLayoutOptions } from './raw-layout.js';
import type { ConfigSpaceHooks, Engine, PowerState, Region, ResetKind, ResetSource } from './region.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_CACHE_LINE_SIZE,
  PCI_CAP_ID_AF,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_VER,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_REVISION_ID,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STATUS,
  PCI_STATUS_INTERRUPT,
  PCI_STD_NUM_BARS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from './regs.js';

export type { ConfigSpaceHooks, PowerState, ResetKind, ResetSource } from './region.js';

/** What a {@link ConfigSpace} runs over: its backing and owner hooks. */
export interface ConfigSpaceOptions {
  /** The device behind the config space (default: an in-memory backing holding the layout's power-on values). */
  backing?: ConfigBacking;
  hooks?: ConfigSpaceHooks;
  /** Hooks for the MSI-X table, when the function has MSI-X. */
  msixHooks?: MsixTableHooks;
}

/** Decoded state of an MSI-X capability. */
export interface MsixStatus extends MsixInfo {
  offset: number;
  enabled: boolean;
  functionMask: boolean;
}

const UNASSIGNED = -1;

/** The config-space access engine (vfio-pci's model): splits user accesses by region, keeps virtual bits in a shadow, sends the rest to the backing, and applies the capabilities' side effects. */
export class ConfigSpace implements Engine {
  readonly size: number;
  readonly shadow: Uint8Array;
  readonly backing: ConfigBacking;
  hooks: ConfigSpaceHooks;
  readonly layout: Layout;
  /** The MSI-X vector table and PBA (present when the function has MSI-X). */
  readonly msixTable: MsixTable | undefined;

  private readonly map: Int16Array;
  private readonly regions: Region[];
  private readonly header: HeaderRegion;
  private readonly pm: PmRegion | undefined;
  private readonly msiCap: MsiRegion | undefined;
  private readonly msixCap: MsixRegion | undefined;
  private readonly pcie: PcieRegion | undefined;
  private readonly af: AfRegion | undefined;

  constructor(layout: Layout, options: ConfigSpaceOptions = {}) {
    this.layout = layout;
    this.size = layout.size;
    this.shadow = Uint8Array.from(layout.shadow);
    this.backing = options.backing ?? new MemoryBacking(layout.hardware, { writable: layout.writable, w1c: layout.w1c });
    this.hooks = options.hooks ?? {};
    this.map = new Int16Array(this.size).fill(UNASSIGNED);
    this.regions = [];
    let header: HeaderRegion | undefined;
    for (const spec of layout.regions) {
      let r: Region;
      if (spec.kind === 'header') {
        header = new HeaderRegion(this, spec, layout.bars, layout.romSize);
        r = header;
      } else {
        r = createCapRegion(this, spec);
      }
      const idx = this.regions.push(r) - 1;
      this.map.fill(idx, spec.start, Math.min(spec.start + spec.length, this.size));
    }
    if (!header) throw new ErrnoError('EINVAL', 'a layout needs a header region');
    this.header = header;
    const find = <T>(kind: 'cap' | 'ecap', id: number): T | undefined =>
      this.regions.find((r) => r.spec.kind === kind && r.id === id && !r.spec.hidden) as T | undefined;
    this.pm = find<PmRegion>('cap', PCI_CAP_ID_PM);
    this.msiCap = find<MsiRegion>('cap', PCI_CAP_ID_MSI);
    this.msixCap = find<MsixRegion>('cap', PCI_CAP_ID_MSIX);
    this.pcie = find<PcieRegion>('cap', PCI_CAP_ID_EXP);
    this.af = find<AfRegion>('cap', PCI_CAP_ID_AF);
    this.msixTable = this.msixCap ? new MsixTable(this.msixCap.info().tableSize, options.msixHooks) : undefined;
    for (const r of this.regions) r.reset('power-on');
  }

  /** Build an engine over a raw config space, hiding what the kernel would hide. */
  static fromRaw(raw: Uint8Array, options: RawLayoutOptions & ConfigSpaceOptions = {}): ConfigSpace {
    return new ConfigSpace(layoutFromRaw(raw, options), options);
  }

  // ---- User accesses

  private check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new ErrnoError('EINVAL', `config access of ${length} bytes at ${offset} is outside the ${this.size}-byte config space`);
    }
  }

  /** Chop [offset, offset+length) into aligned pieces inside one dword and one region. */
  /**
   * Size of the piece at `pos` of an access ending at `end`: 4, else 2, else
   * 1 bytes, aligned, crossing neither a dword nor a region boundary.
   */
  private pieceAt(pos: number, end: number): AccessSize {
    const r = this.map[pos]!;
    let n = 1;
    while ((pos + n) % 4 !== 0 && pos + n < end && this.map[pos + n] === r) n++;
    return n >= 4 && pos % 4 === 0 ? 4 : n >= 2 && pos % 2 === 0 ? 2 : 1;
  }

  private readPiece(pos: number, count: AccessSize, ri: number): number {
    if (ri === UNASSIGNED) return this.layout.unassigned === 'raw' ? this.backing.read(pos, count) : 0;
    const r = this.regions[ri]!;
    return r.read(pos - r.start, count);
  }

  private writePiece(pos: number, count: AccessSize, ri: number, value: number): void {
    if (ri === UNASSIGNED) {
      if (this.layout.unassigned === 'raw') this.backing.write(pos, count, value);
      return;
    }
    const r = this.regions[ri]!;
    r.write(pos - r.start, count, value);
  }

  /** Fill `dst` with the config bytes at `offset` (any length, e.g. a REGION_READ). */
  readInto(offset: number, dst: Uint8Array): void {
    this.check(offset, dst.length);
    const end = offset + dst.length;
    for (let pos = offset; pos < end; ) {
      const count = this.pieceAt(pos, end);
      setLe(dst, pos - offset, count, this.readPiece(pos, count, this.map[pos]!));
      pos += count;
    }
  }

  /** Read `length` config bytes at `offset`. */
  readBytes(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return out;
  }

  /** Write config bytes at `offset` (any length, e.g. a REGION_WRITE). */
  writeBytes(offset: number, src: Uint8Array): void {
    this.check(offset, src.length);
    const end = offset + src.length;
    for (let pos = offset; pos < end; ) {
      const count = this.pieceAt(pos, end);
      this.writePiece(pos, count, this.map[pos]!, getLe(src, pos - offset, count));
      pos += count;
    }
  }

  /**
   * The permission model's masks for `size` bytes at `offset`: which bits are
   * virtual (live in the shadow) and which the user may write - the kernel's
   * vfio-pci tables as this engine applies them. Bits some regions handle
   * specially (BAR sizing, MSI enable through the interrupt API, FLR) are
   * reported by their masks; the special behaviour is documented per
   * capability in docs/config-space.md.
   */
  permissions(offset: number, size: AccessSize): { virt: number; write: number } {
    this.check(offset, size);
    let virt = 0;
    let write = 0;
    for (let i = 0; i < size; i++) {
      const ri = this.map[offset + i]!;
      if (ri === UNASSIGNED) {
        if (this.layout.unassigned === 'raw') write |= 0xff << (8 * i);
        continue;
      }
      const r = this.regions[ri]!;
      virt |= r.perm.virtMask(offset + i - r.start, 1) << (8 * i);
      write |= r.perm.writeMask(offset + i - r.start, 1) << (8 * i);
    }
    return { virt: virt >>> 0, write: write >>> 0 };
  }

  /** Read a 1, 2 or 4 byte little-endian value (any alignment; split like the kernel). */
  read(offset: number, size: AccessSize = 4): number {
    if (size !== 1 && size !== 2 && size !== 4) throw new ErrnoError('EINVAL', `config access size ${String(size)} is not 1, 2 or 4`);
    const b = new Uint8Array(size);
    this.readInto(offset, b);
    return getLe(b, 0, size);
  }

  /** Write a 1, 2 or 4 byte little-endian value (any alignment; split like the kernel). */
  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 1 && size !== 2 && size !== 4) throw new ErrnoError('EINVAL', `config access size ${String(size)} is not 1, 2 or 4`);
    const b = new Uint8Array(size);
    setLe(b, 0, size, value);
    this.writeBytes(offset, b);
  }

  /** The whole config space as the user sees it. */
  snapshot(): Uint8Array {
    return this.readBytes(0, this.size);
  }

  // ---- Identity

  /** Vendor ID register. */
  get vendorId(): number {
    return this.read(PCI_VENDOR_ID, 2);
  }
  /** Device ID register. */
  get deviceId(): number {
    return this.read(PCI_DEVICE_ID, 2);
  }
  /** Revision ID register. */
  get revision(): number {
    return this.read(PCI_REVISION_ID, 1);
  }
  /** 24-bit class code. */
  get classCode(): number {
    return getLe(this.readBytes(PCI_CLASS_PROG, 3), 0, 3);
  }
  /** Subsystem Vendor ID register. */
  get subsystemVendorId(): number {
    return this.read(PCI_SUBSYSTEM_VENDOR_ID, 2);
  }
  /** Subsystem ID register. */
  get subsystemId(): number {
    return this.read(PCI_SUBSYSTEM_ID, 2);
  }

  /** Capabilities visible to the user, in chain order (standard, then extended). */
  get capabilities(): CapabilityInfo[] {
    return this.regions
      .filter((r) => r.spec.kind !== 'header' && !r.spec.hidden)
      .map((r) => {
        const ext = r.spec.kind === 'ecap';
        const info: CapabilityInfo = { id: r.id, extended: ext, offset: r.start, length: r.length };
        if (ext) info.version = PCI_EXT_CAP_VER(this.read(r.start, 4));
        return info;
      });
  }

  /** Offset of the first visible standard capability with this ID. */
  findCapability(id: number): number | undefined {
    return this.capabilities.find((c) => !c.extended && c.id === id)?.offset;
  }

  /** Offset of the first visible extended capability with this ID. */
  findExtendedCapability(id: number): number | undefined {
    return this.capabilities.find((c) => c.extended && c.id === id)?.offset;
  }

  // ---- Command / status

  /** Command register as the user reads it. */
  get command(): number {
    return this.header.command;
  }
  /** COMMAND: Memory Space Enable is set. */
  get memoryEnabled(): boolean {
    return (this.command & PCI_COMMAND_MEMORY) !== 0;
  }
  /** COMMAND: I/O Space Enable is set. */
  get ioEnabled(): boolean {
    return (this.command & PCI_COMMAND_IO) !== 0;
  }
  /** COMMAND: Bus Master Enable is set (the function may do DMA and send MSI/MSI-X). */
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }
  /** COMMAND: Interrupt Disable is set (INTx must not be asserted). */
  get intxDisabled(): boolean {
    return (this.command & PCI_COMMAND_INTX_DISABLE) !== 0;
  }
  /** Memory BARs may be accessed: memory decode on and not in D3hot (the kernel's rule). */
  get memoryAccessible(): boolean {
    return this.memoryEnabled && this.powerState < 3;
  }
  /** I/O BARs may be accessed: I/O decode on and not in D3hot. */
  get ioAccessible(): boolean {
    return this.ioEnabled && this.powerState < 3;
  }
  /** Status register as the user reads it. */
  get status(): number {
    return this.read(PCI_STATUS, 2);
  }
  /** Interrupt Pin register: 0 for none, 1..4 for INTA#..INTD#. */
  get interruptPin(): number {
    return this.read(PCI_INTERRUPT_PIN, 1);
  }
  /** Interrupt Line register as software programmed it. */
  get interruptLine(): number {
    return this.read(PCI_INTERRUPT_LINE, 1);
  }

  /** Device side: set or clear status bits (e.g. PCI_STATUS_INTERRUPT), bypassing the user's rules. */
  setStatusBits(mask: number, on: boolean): void {
    const cur = this.backing.read(PCI_STATUS, 2);
    const next = (on ? cur | mask : cur & ~mask) & 0xffff;
    if (!this.backing.set) throw new ErrnoError('ENOTSUP', 'this backing cannot take device-side status updates');
    this.backing.set(PCI_STATUS, 2, next);
  }

  /** Device side: the INTx line is asserted (status Interrupt bit). */
  setInterruptStatus(asserted: boolean): void {
    this.setStatusBits(PCI_STATUS_INTERRUPT, asserted);
  }

  // ---- BARs

  /** Geometry of BAR `i` (undefined when unimplemented or the upper half of a 64-bit BAR). */
  bar(i: number): BarSpec | undefined {
    return this.layout.bars[i];
  }
  /** Geometry of the six BAR slots (undefined where unimplemented or an upper half). */
  get bars(): readonly (BarSpec | undefined)[] {
    return this.layout.bars;
  }
  /** Expansion ROM size in bytes, or undefined without a ROM BAR. */
  get romSize(): number | undefined {
    return this.layout.romSize;
  }

  /** Address the user programmed into BAR `i` (bigint), or undefined when unimplemented. */
  barAddress(i: number): bigint | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= PCI_STD_NUM_BARS || !this.layout.bars[i]) return undefined;
    return decodeBar(this.readBytes(0, PCI_BASE_ADDRESS_0 + PCI_STD_NUM_BARS * 4 + 4), i)?.address;
  }

  /** The raw value of BAR register `i` as the user reads it. */
  barRegister(i: number): number {
    return this.read(barOffset(i), 4);
  }

  /** Address programmed into the ROM BAR, or undefined without a ROM. */
  get romAddress(): number | undefined {
    return this.layout.romSize ? (this.read(PCI_ROM_ADDRESS, 4) & PCI_ROM_ADDRESS_MASK) >>> 0 : undefined;
  }
  /** ROM BAR: Expansion ROM Enable is set. */
  get romEnabled(): boolean {
    return (this.read(PCI_ROM_ADDRESS, 4) & PCI_ROM_ADDRESS_ENABLE) !== 0;
  }

  // ---- Power management

  /** Current D-state (D0 when the function has no PM capability). */
  get powerState(): PowerState {
    return this.pm ? this.pm.powerState : 0;
  }

  // ---- MSI

  /** Whether the function has a (visible) MSI capability. */
  get hasMsi(): boolean {
    return this.msiCap !== undefined;
  }

  /** The MSI capability's state (undefined without MSI). */
  get msi(): MsiState | undefined {
    return this.msiCap?.state();
  }

  /** Vector `i`'s message (address, data with the vector number merged in, mask, pending). */
  msiVector(i: number): MsiVector {
    return this.requireMsi().vector(i);
  }

  /** SET_IRQS: enable MSI with `count` vectors (sets Multiple Message Enable to cover them). */
  setMsiEnabled(count: number): void {
    this.requireMsi().setEnabled(count);
  }

  /** SET_IRQS with count 0: disable MSI. */
  disableMsi(): void {
    this.requireMsi().disable();
  }

  /** Device side: set/clear an MSI pending bit (per-vector masking only). */
  setMsiPending(i: number, on: boolean): void {
    this.requireMsi().setPending(i, on);
  }

  private requireMsi(): MsiRegion {
    if (!this.msiCap) throw new ErrnoError('EINVAL', 'the function has no MSI capability');
    return this.msiCap;
  }

  // ---- MSI-X

  /** Whether the function has a (visible) MSI-X capability. */
  get hasMsix(): boolean {
    return this.msixCap !== undefined;
  }

  /** Where the MSI-X table/PBA live and the capability's enable/mask state. */
  get msix(): MsixStatus | undefined {
    const c = this.msixCap;
    if (!c) return undefined;
    return { ...c.info(), offset: c.start, enabled: c.enabled, functionMask: c.functionMask };
  }

  /** SET_IRQS: enable or disable MSI-X (the user cannot write the enable bit). */
  setMsixEnabled(on: boolean): void {
    const c = this.requireMsix();
    c.setControl(PCI_MSIX_FLAGS_ENABLE, on);
    this.msixTable!.enabled = c.enabled;
  }

  /** Set or clear the MSI-X Function Mask. */
  setMsixFunctionMask(on: boolean): void {
    const c = this.requireMsix();
    c.setControl(PCI_MSIX_FLAGS_MASKALL, on);
    this.msixTable!.functionMask = c.functionMask;
  }

  private requireMsix(): MsixRegion {
    if (!this.msixCap) throw new ErrnoError('EINVAL', 'the function has no MSI-X capability');
    return this.msixCap;
  }

  // ---- PCIe / AF / AER

  /** Function Level Reset is advertised (PCIe DEVCAP or AF capability). */
  get flrCapable(): boolean {
    return (this.pcie?.flrCapable ?? false) || (this.af?.flrCapable ?? false);
  }

  /** Device side: record AER errors (uncorrectable/correctable status bits). */
  recordAerError(errors: { uncorrectable?: number; correctable?: number }): void {
    const off = this.findExtendedCapability(PCI_EXT_CAP_ID_ERR);
    if (off === undefined) throw new ErrnoError('EINVAL', 'the function has no AER capability');
    recordAerError(this.backing, off, errors);
  }

  // ---- Reset

  /**
   * Reset the function's config registers. 'flr' (what FLR and DEVICE_RESET
   * do): capability registers back to power-on (MSI and MSI-X disabled, D0,
   * PCIe control defaults, AER cleared), the backing reset, but the BARs, ROM
   * BAR, command register, cache line size, latency timer and interrupt line
   * keep their programming - the kernel restores them after a reset, and FLR
   * must not lose BARs. 'power-on': everything back to the declared state.
   * Owners are not notified (they asked for it) except of a command change.
   */
  reset(kind: ResetKind = 'flr'): void {
    const before = this.command;
    const keepShadow: [number, number][] = [];
    let keepHw: { cmd: number; cls: number; lat: number } | undefined;
    if (kind === 'flr') {
      for (const [from, len] of [
        [PCI_COMMAND, 2],
        [PCI_BASE_ADDRESS_0, PCI_STD_NUM_BARS * 4],
        [PCI_ROM_ADDRESS, 4],
        [PCI_INTERRUPT_LINE, 1],
      ] as const) {
        for (let i = from; i < from + len; i++) keepShadow.push([i, this.shadow[i]!]);
      }
      keepHw = {
        cmd: this.backing.read(PCI_COMMAND, 2),
        cls: this.backing.read(PCI_CACHE_LINE_SIZE, 1),
        lat: this.backing.read(PCI_LATENCY_TIMER, 1),
      };
    }
    this.backing.reset?.();
    this.shadow.set(this.layout.shadow);
    for (const [i, v] of keepShadow) this.shadow[i] = v;
    if (keepHw) {
      this.backing.write(PCI_COMMAND, 2, keepHw.cmd);
      this.backing.write(PCI_CACHE_LINE_SIZE, 1, keepHw.cls);
      this.backing.write(PCI_LATENCY_TIMER, 1, keepHw.lat);
    }
    for (const r of this.regions) r.reset(kind);
    this.msixTable?.reset();
    const after = this.command;
    if (after !== before) this.hooks.onCommandChange?.(after, before);
  }

  /** Engine side of a user-initiated reset (FLR bit, PM soft reset): reset, then tell the owner. */
  functionReset(source: ResetSource): void {
    this.reset('flr');
    this.hooks.onReset?.(source);
  }
}
