// Human rendering of any 256/4096-byte config space, in the spirit of
// `lspci -vvv`: identity and class, command and status flags, BARs (with
// sizes when the caller knows them - from the engine, or from the sizing
// probe through decodeWithProbe),
// interrupt pin and line, and every capability the engine models decoded
// field by field; others are named. Our own format, meant to stay readable
// for any input: chains are walked with loop and range guards, and bytes
// past the end of the buffer read as 0xff like an absent device.

import { decodeBar, formatSize, probeBarSizes, type ConfigAccessor } from './bars.js';
import { capabilityName } from './caps/registry.js';
import { dsnSerial } from './caps/dsn.js';
import { decodeMsix } from './caps/msix.js';
import { msiCapableLog2, msiEnabledLog2, msiLayout } from './caps/msi-layout.js';
import type { ConfigSpace } from './config-space.js';
import * as R from './regs.js';
import { hexDigits } from '../util/format.js';

/** What {@link decodeConfigSpace} prints beyond the bytes themselves. */
export interface DecodeOptions {
  /** Slot printed first (default 00:00.0). */
  slot?: string;
  /** BAR sizes by index, when known. */
  barSizes?: readonly (number | undefined)[];
  romSize?: number;
}

const CLASSES: Record<number, [string, Record<number, string>]> = {
  0x00: ['Unclassified device', { 0x00: 'Non-VGA unclassified device', 0x01: 'VGA compatible unclassified device' }],
  0x01: [
    'Mass storage controller',
    {
      0x00: 'SCSI storage controller',
      0x01: 'IDE interface',
      0x02: 'Floppy disk controller',
      0x03: 'IPI bus controller',
      0x04: 'RAID bus controller',
      0x05: 'ATA controller',
      0x06: 'SATA controller',
      0x07: 'Serial Attached SCSI controller',
      0x08: 'Non-Volatile memory controller',
      0x09: 'Universal Flash Storage controller',
    },
  ],
  0x02: [
    'Network controller',
    {
      0x00: 'Ethernet controller',
      0x01: 'Token ring network controller',
      0x02: 'FDDI network controller',
      0x03: 'ATM network controller',
      0x07: 'Infiniband controller',
      0x08: 'Fabric controller',
    },
  ],
  0x03: ['Display controller', { 0x00: 'VGA compatible controller', 0x01: 'XGA compatible controller', 0x02: '3D controller' }],
  0x04: [
    'Multimedia controller',
    { 0x00: 'Multimedia video controller', 0x01: 'Multimedia audio controller', 0x02: 'Computer telephony device', 0x03: 'Audio device' },
  ],
  0x05: ['Memory controller', { 0x00: 'RAM memory', 0x01: 'FLASH memory', 0x02: 'CXL' }],
  0x06: [
    'Bridge',
    {
      0x00: 'Host bridge',
      0x01: 'ISA bridge',
      0x02: 'EISA bridge',
      0x03: 'MicroChannel bridge',
      0x04: 'PCI bridge',
      0x05: 'PCMCIA bridge',
      0x06: 'NuBus bridge',
      0x07: 'CardBus bridge',
      0x08: 'RACEway bridge',
      0x09: 'Semi-transparent PCI-to-PCI bridge',
      0x0a: 'InfiniBand to PCI host bridge',
    },
  ],
  0x07: [
    'Communication controller',
    { 0x00: 'Serial controller', 0x01: 'Parallel controller', 0x02: 'Multiport serial controller', 0x03: 'Modem', 0x04: 'GPIB controller' },
  ],
  0x08: [
    'Generic system peripheral',
    {
      0x00: 'PIC',
      0x01: 'DMA controller',
      0x02: 'Timer',
      0x03: 'RTC',
      0x04: 'PCI Hot-plug controller',
      0x05: 'SD Host controller',
      0x06: 'IOMMU',
    },
  ],
  0x09: [
    'Input device controller',
    {
      0x00: 'Keyboard controller',
      0x01: 'Digitizer Pen',
      0x02: 'Mouse controller',
      0x03: 'Scanner controller',
      0x04: 'Gameport controller',
    },
  ],
  0x0a: ['Docking station', { 0x00: 'Generic Docking Station' }],
  0x0b: ['Processor', { 0x00: '386', 0x01: '486', 0x02: 'Pentium', 0x10: 'Alpha', 0x20: 'Power PC', 0x30: 'MIPS', 0x40: 'Co-processor' }],
  0x0c: [
    'Serial bus controller',
    {
      0x00: 'FireWire (IEEE 1394)',
      0x01: 'ACCESS Bus',
      0x02: 'SSA',
      0x03: 'USB controller',
      0x04: 'Fibre Channel',
      0x05: 'SMBus',
      0x06: 'InfiniBand',
      0x07: 'IPMI Interface',
    },
  ],
  0x0d: [
    'Wireless controller',
    { 0x00: 'IRDA controller', 0x01: 'Consumer IR controller', 0x10: 'RF controller', 0x11: 'Bluetooth', 0x12: 'Broadband' },
  ],
  0x0e: ['Intelligent controller', { 0x00: 'I2O' }],
  0x0f: ['Satellite communications controller', {}],
  0x10: ['Encryption controller', { 0x00: 'Network and computing encryption device', 0x10: 'Entertainment encryption device' }],
  0x11: [
    'Signal processing controller',
    { 0x00: 'DPIO module', 0x01: 'Performance counters', 0x10: 'Communication synchronizer', 0x20: 'Signal processing management' },
  ],
  0x12: ['Processing accelerators', {}],
  0x13: ['Non-Essential Instrumentation', {}],
  0x40: ['Coprocessor', {}],
  0xff: ['Unassigned class', {}],
};

/** Name of a 16-bit (base << 8 | sub) class, as lspci words it. */
export function className(cls16: number): string {
  const base = CLASSES[(cls16 >> 8) & 0xff];
  if (!base) return 'Class ' + hexDigits(cls16, 4);
  return base[1][cls16 & 0xff] ?? base[0];
}

const flag = (name: string, on: boolean | number): string => `${name}${on ? '+' : '-'}`;

class Reader {
  constructor(readonly cfg: Uint8Array) {}
  b(off: number): number {
    return off < this.cfg.length ? this.cfg[off]! : 0xff;
  }
  w(off: number): number {
    return this.b(off) | (this.b(off + 1) << 8);
  }
  d(off: number): number {
    return (this.w(off) | (this.w(off + 2) << 16)) >>> 0;
  }
}

const SPEEDS = ['', '2.5GT/s', '5GT/s', '8GT/s', '16GT/s', '32GT/s', '64GT/s'];
const speedName = (code: number): string => SPEEDS[code] ?? `unknown (#${code})`;
const payload = (code: number): string => `${128 << code} bytes`;

/** Render a config space (any header type; 64, 256 or 4096 bytes). */
export function decodeConfigSpace(cfg: Uint8Array, options: DecodeOptions = {}): string {
  const r = new Reader(cfg);
  const out: string[] = [];
  const line = (depth: number, text: string): void => {
    out.push('\t'.repeat(depth) + text);
  };
  const vendor = r.w(R.PCI_VENDOR_ID);
  const device = r.w(R.PCI_DEVICE_ID);
  const cls = (r.d(R.PCI_REVISION_ID) >>> 8) & 0xffffff;
  const rev = r.b(R.PCI_REVISION_ID);
  const htype = r.b(R.PCI_HEADER_TYPE) & R.PCI_HEADER_TYPE_MASK;
  let first = `${options.slot ?? '00:00.0'} ${className(cls >> 8)} [${hexDigits(cls >> 8, 4)}]: Device ${hexDigits(vendor, 4)}:${hexDigits(device, 4)}`;
  if (rev) first += ` (rev ${hexDigits(rev, 2)})`;
  if (cls & 0xff) first += ` (prog-if ${hexDigits(cls & 0xff, 2)})`;
  line(0, first);
  if (vendor === 0xffff) {
    line(1, 'No device (vendor ID 0xffff)');
    return out.join('\n') + '\n';
  }
  if (htype === R.PCI_HEADER_TYPE_NORMAL) {
    const sv = r.w(R.PCI_SUBSYSTEM_VENDOR_ID);
    const sd = r.w(R.PCI_SUBSYSTEM_ID);
    if (sv || sd) line(1, `Subsystem: Device ${hexDigits(sv, 4)}:${hexDigits(sd, 4)}`);
  } else {
    line(
      1,
      `Header type ${htype}${htype === R.PCI_HEADER_TYPE_BRIDGE ? ' (PCI-to-PCI bridge)' : htype === R.PCI_HEADER_TYPE_CARDBUS ? ' (CardBus bridge)' : ' (unknown)'}`,
    );
  }
  const cmd = r.w(R.PCI_COMMAND);
  line(
    1,
    'Control: ' +
      [
        flag('I/O', cmd & R.PCI_COMMAND_IO),
        flag('Mem', cmd & R.PCI_COMMAND_MEMORY),
        flag('BusMaster', cmd & R.PCI_COMMAND_MASTER),
        flag('SpecCycle', cmd & R.PCI_COMMAND_SPECIAL),
        flag('MemWINV', cmd & R.PCI_COMMAND_INVALIDATE),
        flag('VGASnoop', cmd & R.PCI_COMMAND_VGA_PALETTE),
        flag('ParErr', cmd & R.PCI_COMMAND_PARITY),
        flag('Stepping', cmd & R.PCI_COMMAND_WAIT),
        flag('SERR', cmd & R.PCI_COMMAND_SERR),
        flag('FastB2B', cmd & R.PCI_COMMAND_FAST_BACK),
        flag('DisINTx', cmd & R.PCI_COMMAND_INTX_DISABLE),
      ].join(' '),
  );
  const st = r.w(R.PCI_STATUS);
  const devsel = ['fast', 'medium', 'slow', '??'][(st & R.PCI_STATUS_DEVSEL_MASK) >> 9];
  line(
    1,
    'Status: ' +
      [
        flag('Cap', st & R.PCI_STATUS_CAP_LIST),
        flag('66MHz', st & R.PCI_STATUS_66MHZ),
        flag('UDF', st & R.PCI_STATUS_UDF),
        flag('FastB2B', st & R.PCI_STATUS_FAST_BACK),
        flag('ParErr', st & R.PCI_STATUS_PARITY),
        `DEVSEL=${devsel}`,
        flag('>TAbort', st & R.PCI_STATUS_SIG_TARGET_ABORT),
        flag('<TAbort', st & R.PCI_STATUS_REC_TARGET_ABORT),
        flag('<MAbort', st & R.PCI_STATUS_REC_MASTER_ABORT),
        flag('>SERR', st & R.PCI_STATUS_SIG_SYSTEM_ERROR),
        flag('<PERR', st & R.PCI_STATUS_DETECTED_PARITY),
        flag('INTx', st & R.PCI_STATUS_INTERRUPT),
      ].join(' '),
  );
  const lat = r.b(R.PCI_LATENCY_TIMER);
  const cache = r.b(R.PCI_CACHE_LINE_SIZE);
  if (lat || cache) line(1, `Latency: ${lat}${cache ? `, Cache Line Size: ${cache * 4} bytes` : ''}`);
  const pin = r.b(R.PCI_INTERRUPT_PIN);
  if (pin) line(1, `Interrupt: pin ${pin <= 4 ? 'ABCD'[pin - 1] : '?'} routed to IRQ ${r.b(R.PCI_INTERRUPT_LINE)}`);
  if (htype === R.PCI_HEADER_TYPE_BRIDGE) {
    line(
      1,
      `Bus: primary=${hexDigits(r.b(R.PCI_PRIMARY_BUS), 2)}, secondary=${hexDigits(r.b(R.PCI_SECONDARY_BUS), 2)}, subordinate=${hexDigits(r.b(R.PCI_SUBORDINATE_BUS), 2)}`,
    );
  }

  // BARs
  const nbars = htype === R.PCI_HEADER_TYPE_NORMAL ? 6 : htype === R.PCI_HEADER_TYPE_BRIDGE ? 2 : 0;
  const padded = cfg.length >= 0x40 ? cfg : Uint8Array.from({ length: 0x40 }, (_, i) => r.b(i));
  for (let i = 0; i < nbars; i++) {
    const bar = decodeBar(padded, i);
    if (!bar) continue;
    const size = options.barSizes?.[i];
    const sz = size ? ` [size=${formatSize(size)}]` : '';
    if (bar.kind === 'io') {
      line(1, `Region ${i}: I/O ports at ${bar.address ? hexDigits(bar.address, 4) : '<unassigned>'}${sz}`);
    } else {
      const addr = bar.address ? hexDigits(bar.address, 8) : '<unassigned>';
      line(
        1,
        `Region ${i}: Memory at ${addr} (${bar.kind === 'mem64' ? '64-bit' : '32-bit'}, ${bar.prefetchable ? 'prefetchable' : 'non-prefetchable'})${sz}`,
      );
    }
  }
  if (htype === R.PCI_HEADER_TYPE_NORMAL) {
    const rom = r.d(R.PCI_ROM_ADDRESS);
    if (rom || options.romSize) {
      const addr = (rom & R.PCI_ROM_ADDRESS_MASK) >>> 0;
      line(
        1,
        `Expansion ROM at ${addr ? hexDigits(addr, 8) : '<unassigned>'}${rom & R.PCI_ROM_ADDRESS_ENABLE ? '' : ' [disabled]'}${options.romSize ? ` [size=${formatSize(options.romSize)}]` : ''}`,
      );
    }
  }

  // Capabilities
  if (htype !== R.PCI_HEADER_TYPE_CARDBUS && st & R.PCI_STATUS_CAP_LIST) {
    const seen = new Set<number>();
    let pos = r.b(R.PCI_CAPABILITY_LIST) & ~3;
    while (pos) {
      if (pos < R.PCI_STD_HEADER_SIZEOF || pos >= Math.min(cfg.length, R.PCI_CFG_SPACE_SIZE)) {
        line(1, `Capabilities: [${hexDigits(pos, 2)}] <chain points outside the capability area>`);
        break;
      }
      if (seen.has(pos)) {
        line(1, `Capabilities: [${hexDigits(pos, 2)}] <chain loops>`);
        break;
      }
      seen.add(pos);
      decodeStdCap(r, pos, line);
      pos = r.b(pos + R.PCI_CAP_LIST_NEXT) & ~3;
    }
  }
  if (cfg.length >= R.PCI_CFG_SPACE_EXP_SIZE) {
    const hdr0 = r.d(R.PCI_CFG_SPACE_SIZE);
    if (hdr0 !== 0 && hdr0 !== 0xffffffff) {
      const seen = new Set<number>();
      let pos = R.PCI_CFG_SPACE_SIZE;
      while (pos) {
        if (pos < R.PCI_CFG_SPACE_SIZE || pos + 4 > cfg.length) {
          line(1, `Capabilities: [${hexDigits(pos, 3)}] <chain points outside the extended area>`);
          break;
        }
        if (seen.has(pos)) {
          line(1, `Capabilities: [${hexDigits(pos, 3)}] <chain loops>`);
          break;
        }
        seen.add(pos);
        const h = r.d(pos);
        decodeExtCap(r, pos, h, line);
        pos = R.PCI_EXT_CAP_NEXT(h);
      }
    }
  }
  return out.join('\n') + '\n';
}

type Line = (depth: number, text: string) => void;

function decodeStdCap(r: Reader, pos: number, line: Line): void {
  const id = r.b(pos);
  const tag = `Capabilities: [${hexDigits(pos, 2)}] `;
  switch (id) {
    case R.PCI_CAP_ID_PM: {
      const pmc = r.w(pos + R.PCI_PM_PMC);
      const csr = r.w(pos + R.PCI_PM_CTRL);
      const aux = [0, 55, 100, 160, 220, 270, 320, 375][(pmc & R.PCI_PM_CAP_AUX_POWER) >> 6];
      line(1, `${tag}Power Management version ${pmc & R.PCI_PM_CAP_VER_MASK}`);
      const pme = (bit: number): string => ((pmc & bit) !== 0 ? '+' : '-');
      line(
        2,
        `Flags: ${flag('PMEClk', pmc & R.PCI_PM_CAP_PME_CLOCK)} ${flag('DSI', pmc & R.PCI_PM_CAP_DSI)} ${flag('D1', pmc & R.PCI_PM_CAP_D1)} ${flag('D2', pmc & R.PCI_PM_CAP_D2)} AuxCurrent=${aux}mA ` +
          `PME(D0${pme(R.PCI_PM_CAP_PME_D0)},D1${pme(R.PCI_PM_CAP_PME_D1)},D2${pme(R.PCI_PM_CAP_PME_D2)},D3hot${pme(R.PCI_PM_CAP_PME_D3hot)},D3cold${pme(R.PCI_PM_CAP_PME_D3cold)})`,
      );
      line(
        2,
        `Status: D${csr & R.PCI_PM_CTRL_STATE_MASK} ${flag('NoSoftRst', csr & R.PCI_PM_CTRL_NO_SOFT_RESET)} ${flag('PME-Enable', csr & R.PCI_PM_CTRL_PME_ENABLE)} ` +
          `DSel=${(csr & R.PCI_PM_CTRL_DATA_SEL_MASK) >> 9} DScale=${(csr & R.PCI_PM_CTRL_DATA_SCALE_MASK) >> 13} ${flag('PME', csr & R.PCI_PM_CTRL_PME_STATUS)}`,
      );
      return;
    }
    case R.PCI_CAP_ID_MSI: {
      const f = r.w(pos + R.PCI_MSI_FLAGS);
      const at = msiLayout(f);
      const is64 = at.is64;
      const maskable = at.perVectorMask;
      line(
        1,
        `${tag}MSI: ${flag('Enable', f & R.PCI_MSI_FLAGS_ENABLE)} Count=${1 << msiEnabledLog2(f)}/${1 << msiCapableLog2(f)} ${flag('Maskable', maskable)} ${flag('64bit', is64)}`,
      );
      const lo = r.d(pos + at.addressLo);
      const hi = at.addressHi !== undefined ? r.d(pos + at.addressHi) : 0;
      const data = r.w(pos + at.data);
      line(2, `Address: ${is64 ? hexDigits(hi, 8) + hexDigits(lo, 8) : hexDigits(lo, 8)}  Data: ${hexDigits(data, 4)}`);
      if (maskable) {
        const m = r.d(pos + at.mask);
        const p = r.d(pos + at.pending);
        line(2, `Masking: ${hexDigits(m, 8)}  Pending: ${hexDigits(p, 8)}`);
      }
      return;
    }
    case R.PCI_CAP_ID_MSIX: {
      const f = r.w(pos + R.PCI_MSIX_FLAGS);
      const info = decodeMsix(f, r.d(pos + R.PCI_MSIX_TABLE), r.d(pos + R.PCI_MSIX_PBA));
      line(
        1,
        `${tag}MSI-X: ${flag('Enable', f & R.PCI_MSIX_FLAGS_ENABLE)} Count=${info.tableSize} ${flag('Masked', f & R.PCI_MSIX_FLAGS_MASKALL)}`,
      );
      line(2, `Vector table: BAR=${info.tableBar} offset=${hexDigits(info.tableOffset, 8)}`);
      line(2, `PBA: BAR=${info.pbaBar} offset=${hexDigits(info.pbaOffset, 8)}`);
      return;
    }
    case R.PCI_CAP_ID_EXP:
      decodePcie(r, pos, tag, line);
      return;
    case R.PCI_CAP_ID_AF: {
      const cap = r.b(pos + R.PCI_AF_CAP);
      line(1, `${tag}PCI Advanced Features`);
      line(2, `AFCap: ${flag('TP', cap & R.PCI_AF_CAP_TP)} ${flag('FLR', cap & R.PCI_AF_CAP_FLR)}`);
      line(2, `AFCtrl: ${flag('FLR', r.b(pos + R.PCI_AF_CTRL) & R.PCI_AF_CTRL_FLR)}`);
      line(2, `AFStatus: ${flag('TP', r.b(pos + R.PCI_AF_STATUS) & R.PCI_AF_STATUS_TP)}`);
      return;
    }
    case R.PCI_CAP_ID_VNDR: {
      const len = r.b(pos + R.PCI_CAP_FLAGS);
      line(1, `${tag}Vendor Specific Information: Len=${hexDigits(len, 2)}`);
      const bytes: string[] = [];
      for (let i = 3; i < len && pos + i < R.PCI_CFG_SPACE_SIZE; i++) bytes.push(hexDigits(r.b(pos + i), 2));
      for (let i = 0; i < bytes.length; i += 16) line(2, `Data: ${bytes.slice(i, i + 16).join(' ')}`);
      return;
    }
    default:
      line(1, `${tag}${capabilityName(id, false)}`);
  }
}

const PCIE_TYPES: Record<number, string> = {
  [R.PCI_EXP_TYPE_ENDPOINT]: 'Endpoint',
  [R.PCI_EXP_TYPE_LEG_END]: 'Legacy Endpoint',
  [R.PCI_EXP_TYPE_ROOT_PORT]: 'Root Port',
  [R.PCI_EXP_TYPE_UPSTREAM]: 'Upstream Port',
  [R.PCI_EXP_TYPE_DOWNSTREAM]: 'Downstream Port',
  [R.PCI_EXP_TYPE_PCI_BRIDGE]: 'PCI-Express to PCI/PCI-X Bridge',
  [R.PCI_EXP_TYPE_PCIE_BRIDGE]: 'PCI/PCI-X to PCI-Express Bridge',
  [R.PCI_EXP_TYPE_RC_END]: 'Root Complex Integrated Endpoint',
  [R.PCI_EXP_TYPE_RC_EC]: 'Root Complex Event Collector',
};

function decodePcie(r: Reader, pos: number, tag: string, line: Line): void {
  const flags = r.w(pos + R.PCI_EXP_FLAGS);
  const ver = flags & R.PCI_EXP_FLAGS_VERS;
  const type = (flags & R.PCI_EXP_FLAGS_TYPE) >> 4;
  line(1, `${tag}Express (v${ver}) ${PCIE_TYPES[type] ?? `Unknown type ${type}`}, MSI ${hexDigits((flags & R.PCI_EXP_FLAGS_IRQ) >> 9, 2)}`);
  const devcap = r.d(pos + R.PCI_EXP_DEVCAP);
  line(2, `DevCap:\tMaxPayload ${payload(devcap & R.PCI_EXP_DEVCAP_PAYLOAD)}, PhantFunc ${(devcap & R.PCI_EXP_DEVCAP_PHANTOM) >> 3}`);
  line(
    3,
    `${flag('ExtTag', devcap & R.PCI_EXP_DEVCAP_EXT_TAG)} ${flag('AttnBtn', devcap & R.PCI_EXP_DEVCAP_ATN_BUT)} ${flag('AttnInd', devcap & R.PCI_EXP_DEVCAP_ATN_IND)} ` +
      `${flag('PwrInd', devcap & R.PCI_EXP_DEVCAP_PWR_IND)} ${flag('RBE', devcap & R.PCI_EXP_DEVCAP_RBER)} ${flag('FLReset', devcap & R.PCI_EXP_DEVCAP_FLR)}`,
  );
  const ctl = r.w(pos + R.PCI_EXP_DEVCTL);
  line(
    2,
    `DevCtl:\t${flag('CorrErr', ctl & R.PCI_EXP_DEVCTL_CERE)} ${flag('NonFatalErr', ctl & R.PCI_EXP_DEVCTL_NFERE)} ${flag('FatalErr', ctl & R.PCI_EXP_DEVCTL_FERE)} ${flag('UnsupReq', ctl & R.PCI_EXP_DEVCTL_URRE)}`,
  );
  line(
    3,
    `${flag('RlxdOrd', ctl & R.PCI_EXP_DEVCTL_RELAX_EN)} ${flag('ExtTag', ctl & R.PCI_EXP_DEVCTL_EXT_TAG)} ${flag('PhantFunc', ctl & R.PCI_EXP_DEVCTL_PHANTOM)} ` +
      `${flag('AuxPwr', ctl & R.PCI_EXP_DEVCTL_AUX_PME)} ${flag('NoSnoop', ctl & R.PCI_EXP_DEVCTL_NOSNOOP_EN)} ${flag('FLReset', ctl & R.PCI_EXP_DEVCTL_BCR_FLR)}`,
  );
  line(3, `MaxPayload ${payload((ctl & R.PCI_EXP_DEVCTL_PAYLOAD) >> 5)}, MaxReadReq ${payload((ctl & R.PCI_EXP_DEVCTL_READRQ) >> 12)}`);
  const sta = r.w(pos + R.PCI_EXP_DEVSTA);
  line(
    2,
    `DevSta:\t${flag('CorrErr', sta & R.PCI_EXP_DEVSTA_CED)} ${flag('NonFatalErr', sta & R.PCI_EXP_DEVSTA_NFED)} ${flag('FatalErr', sta & R.PCI_EXP_DEVSTA_FED)} ` +
      `${flag('UnsupReq', sta & R.PCI_EXP_DEVSTA_URD)} ${flag('AuxPwr', sta & R.PCI_EXP_DEVSTA_AUXPD)} ${flag('TransPend', sta & R.PCI_EXP_DEVSTA_TRPND)}`,
  );
  const hasLink = type !== R.PCI_EXP_TYPE_RC_END && type !== R.PCI_EXP_TYPE_RC_EC;
  if (hasLink) {
    const lcap = r.d(pos + R.PCI_EXP_LNKCAP);
    const aspm = ['not supported', 'L0s', 'L1', 'L0s L1'][(lcap & R.PCI_EXP_LNKCAP_ASPMS) >> 10];
    line(
      2,
      `LnkCap:\tPort #${lcap >>> 24}, Speed ${speedName(lcap & R.PCI_EXP_LNKCAP_SLS)}, Width x${(lcap & R.PCI_EXP_LNKCAP_MLW) >> 4}, ASPM ${aspm}`,
    );
    const lctl = r.w(pos + R.PCI_EXP_LNKCTL);
    const aspmc = ['Disabled', 'L0s Enabled', 'L1 Enabled', 'L0s L1 Enabled'][lctl & R.PCI_EXP_LNKCTL_ASPMC];
    line(
      2,
      `LnkCtl:\tASPM ${aspmc}; RCB ${lctl & R.PCI_EXP_LNKCTL_RCB ? 128 : 64} bytes, ${flag('Disabled', lctl & R.PCI_EXP_LNKCTL_LD)} ${flag('CommClk', lctl & R.PCI_EXP_LNKCTL_CCC)}`,
    );
    const lsta = r.w(pos + R.PCI_EXP_LNKSTA);
    line(
      2,
      `LnkSta:\tSpeed ${speedName(lsta & R.PCI_EXP_LNKSTA_CLS)}, Width x${(lsta & R.PCI_EXP_LNKSTA_NLW) >> R.PCI_EXP_LNKSTA_NLW_SHIFT}`,
    );
  }
  if (ver >= 2) {
    const dc2 = r.d(pos + R.PCI_EXP_DEVCAP2);
    line(
      2,
      `DevCap2: Completion Timeout ranges ${hexDigits(dc2 & 0xf, 1)}, ${flag('TimeoutDis', dc2 & R.PCI_EXP_DEVCAP2_COMP_TMOUT_DIS)} ${flag('LTR', dc2 & R.PCI_EXP_DEVCAP2_LTR)} ` +
        `${flag('ARIFwd', dc2 & R.PCI_EXP_DEVCAP2_ARI)} AtomicOpsCap: 32bit${dc2 & R.PCI_EXP_DEVCAP2_ATOMIC_COMP32 ? '+' : '-'} 64bit${dc2 & R.PCI_EXP_DEVCAP2_ATOMIC_COMP64 ? '+' : '-'}`,
    );
    const dctl2 = r.w(pos + R.PCI_EXP_DEVCTL2);
    line(
      2,
      `DevCtl2: Completion Timeout value ${hexDigits(dctl2 & R.PCI_EXP_DEVCTL2_COMP_TIMEOUT, 1)}, ${flag('TimeoutDis', dctl2 & R.PCI_EXP_DEVCTL2_COMP_TMOUT_DIS)} ` +
        `${flag('ARIFwd', dctl2 & R.PCI_EXP_DEVCTL2_ARI)} ${flag('LTR', dctl2 & R.PCI_EXP_DEVCTL2_LTR_EN)} ${flag('AtomicOpsReq', dctl2 & R.PCI_EXP_DEVCTL2_ATOMIC_REQ)}`,
    );
    if (hasLink) {
      const lc2 = r.d(pos + R.PCI_EXP_LNKCAP2);
      const speeds = SPEEDS.slice(1).filter((_, i) => lc2 & (2 << i));
      line(
        2,
        `LnkCap2: Supported Link Speeds: ${speeds.length ? speeds.join(', ') : 'none'}, ${flag('Crosslink', lc2 & R.PCI_EXP_LNKCAP2_CROSSLINK)}`,
      );
      const lctl2 = r.w(pos + R.PCI_EXP_LNKCTL2);
      line(
        2,
        `LnkCtl2: Target Link Speed: ${speedName(lctl2 & R.PCI_EXP_LNKCTL2_TLS)}, ${flag('EnterCompliance', lctl2 & R.PCI_EXP_LNKCTL2_ENTER_COMP)} ${flag('SpeedDis', lctl2 & R.PCI_EXP_LNKCTL2_HASD)}`,
      );
      line(2, `LnkSta2: ${hexDigits(r.w(pos + R.PCI_EXP_LNKSTA2), 4)}`);
    }
  }
}

const UNC_BITS: [number, string][] = [
  [R.PCI_ERR_UNC_DLP, 'DLP'],
  [R.PCI_ERR_UNC_SURPDN, 'SDES'],
  [R.PCI_ERR_UNC_POISON_TLP, 'TLP'],
  [R.PCI_ERR_UNC_FCP, 'FCP'],
  [R.PCI_ERR_UNC_COMP_TIME, 'CmpltTO'],
  [R.PCI_ERR_UNC_COMP_ABORT, 'CmpltAbrt'],
  [R.PCI_ERR_UNC_UNX_COMP, 'UnxCmplt'],
  [R.PCI_ERR_UNC_RX_OVER, 'RxOF'],
  [R.PCI_ERR_UNC_MALF_TLP, 'MalfTLP'],
  [R.PCI_ERR_UNC_ECRC, 'ECRC'],
  [R.PCI_ERR_UNC_UNSUP, 'UnsupReq'],
  [R.PCI_ERR_UNC_ACSV, 'ACSViol'],
  [R.PCI_ERR_UNC_INTN, 'UncorrIntErr'],
  [R.PCI_ERR_UNC_MCBTLP, 'BlockedTLP'],
  [R.PCI_ERR_UNC_ATOMEG, 'AtomicOpBlocked'],
  [R.PCI_ERR_UNC_TLPPRE, 'TLPBlockedErr'],
];
const COR_BITS: [number, string][] = [
  [R.PCI_ERR_COR_RCVR, 'RxErr'],
  [R.PCI_ERR_COR_BAD_TLP, 'BadTLP'],
  [R.PCI_ERR_COR_BAD_DLLP, 'BadDLLP'],
  [R.PCI_ERR_COR_REP_ROLL, 'Rollover'],
  [R.PCI_ERR_COR_REP_TIMER, 'Timeout'],
  [R.PCI_ERR_COR_ADV_NFAT, 'AdvNonFatalErr'],
  [R.PCI_ERR_COR_INTERNAL, 'CorrIntErr'],
  [R.PCI_ERR_COR_LOG_OVER, 'HeaderOF'],
];
const bits = (v: number, table: [number, string][]): string => table.map(([b, n]) => flag(n, v & b)).join(' ');

function decodeExtCap(r: Reader, pos: number, header: number, line: Line): void {
  const id = R.PCI_EXT_CAP_ID(header);
  const ver = R.PCI_EXT_CAP_VER(header);
  const tag = `Capabilities: [${hexDigits(pos, 3)} v${ver}] `;
  switch (id) {
    case 0:
      line(1, `${tag}Null`);
      return;
    case R.PCI_EXT_CAP_ID_ERR: {
      line(1, `${tag}Advanced Error Reporting`);
      line(2, `UESta:\t${bits(r.d(pos + R.PCI_ERR_UNCOR_STATUS), UNC_BITS)}`);
      line(2, `UEMsk:\t${bits(r.d(pos + R.PCI_ERR_UNCOR_MASK), UNC_BITS)}`);
      line(2, `UESvrt:\t${bits(r.d(pos + R.PCI_ERR_UNCOR_SEVER), UNC_BITS)}`);
      line(2, `CESta:\t${bits(r.d(pos + R.PCI_ERR_COR_STATUS), COR_BITS)}`);
      line(2, `CEMsk:\t${bits(r.d(pos + R.PCI_ERR_COR_MASK), COR_BITS)}`);
      const cap = r.d(pos + R.PCI_ERR_CAP);
      line(
        2,
        `AERCap:\tFirst Error Pointer: ${hexDigits(R.PCI_ERR_CAP_FEP(cap), 2)}, ${flag('ECRCGenCap', cap & R.PCI_ERR_CAP_ECRC_GENC)} ${flag('ECRCGenEn', cap & R.PCI_ERR_CAP_ECRC_GENE)} ` +
          `${flag('ECRCChkCap', cap & R.PCI_ERR_CAP_ECRC_CHKC)} ${flag('ECRCChkEn', cap & R.PCI_ERR_CAP_ECRC_CHKE)}`,
      );
      const log = [0, 4, 8, 12].map((o) => hexDigits(r.d(pos + R.PCI_ERR_HEADER_LOG + o), 8)).join(' ');
      line(2, `HeaderLog: ${log}`);
      return;
    }
    case R.PCI_EXT_CAP_ID_DSN: {
      const serial = dsnSerial(r.d(pos + 4), r.d(pos + 8));
      const bytes: string[] = [];
      for (let i = 7; i >= 0; i--) bytes.push(hexDigits((serial >> BigInt(i * 8)) & 0xffn, 2));
      line(1, `${tag}Device Serial Number ${bytes.join('-')}`);
      return;
    }
    case R.PCI_EXT_CAP_ID_VNDR: {
      const h = r.d(pos + R.PCI_VSEC_HDR);
      line(1, `${tag}Vendor Specific Information: ID=${hexDigits(h & 0xffff, 4)} Rev=${(h >>> 16) & 0xf} Len=${hexDigits(h >>> 20, 3)}`);
      return;
    }
    default:
      line(1, `${tag}${capabilityName(id, true)}`);
  }
}

/** Render an engine's config space as its user sees it, with the BAR sizes it knows. */
export function describeConfigSpace(cs: ConfigSpace, options: Omit<DecodeOptions, 'barSizes' | 'romSize'> = {}): string {
  const o: DecodeOptions = { ...options, barSizes: cs.bars.map((b) => b?.size) };
  if (cs.romSize !== undefined) o.romSize = cs.romSize;
  return decodeConfigSpace(cs.snapshot(), o);
}

/**
 * Read a whole config space through any accessor (a device behind the Driver
 * API, an engine) and render it with BAR sizes found by the sizing probe.
 * The probe writes all ones to each BAR and restores it: on real hardware do
 * this with memory and I/O decode disabled in the command register.
 */
export function decodeWithProbe(
  acc: ConfigAccessor,
  options: Omit<DecodeOptions, 'barSizes' | 'romSize'> & { size?: 256 | 4096 } = {},
): string {
  const size = options.size ?? 256;
  const cfg = new Uint8Array(size);
  const dv = new DataView(cfg.buffer);
  for (let off = 0; off < size; off += 4) dv.setUint32(off, acc.read(off, 4) >>> 0, true);
  const probed = probeBarSizes(acc);
  const o: DecodeOptions = { barSizes: probed.bars.map((b) => b?.size) };
  if (options.slot !== undefined) o.slot = options.slot;
  if (probed.romSize !== undefined) o.romSize = probed.romSize;
  return decodeConfigSpace(cfg, o);
}
