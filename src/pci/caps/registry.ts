// Which capabilities are presented, how long they are, and which Region
// implements each - the kernel's tables (pci_cap_length, pci_ext_cap_length,
// vfio_cap_len, vfio_ext_cap_len in vfio_pci_config.c).
//
// A capability whose length is 0 here is hidden: the engine links the chain
// around it. Lengths of variable-size capabilities are computed from their
// registers exactly as the kernel does. Capabilities the engine does not model
// with side effects are presented read-only with the kernel's extra write
// permissions where it has them (PCI-X command/ECC, VPD address/data, Power
// Budgeting data, raw writes to vendor-specific extended caps and DVSECs).

import { ALL_VIRT, ALL_WRITE, NO_VIRT } from '../perms.js';
import { capPerms, Region, type Engine, type RegionSpec } from '../region.js';
import {
  HT_3BIT_CAP_MASK,
  HT_CAP_SIZEOF_LONG,
  HT_CAP_SIZEOF_SHORT,
  PCI_ACS_CAP,
  PCI_ACS_EC,
  PCI_ACS_EGRESS_BITS,
  PCI_AGP_SIZEOF,
  PCI_CAP_AF_SIZEOF,
  PCI_CAP_FLAGS,
  PCI_CAP_ID_AF,
  PCI_CAP_ID_AGP,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_HT,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PCIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_SATA,
  PCI_CAP_ID_VNDR,
  PCI_CAP_ID_VPD,
  PCI_CAP_MSIX_SIZEOF,
  PCI_CAP_PCIX_SIZEOF_V0,
  PCI_CAP_PCIX_SIZEOF_V2,
  PCI_CAP_VC_BASE_SIZEOF,
  PCI_CAP_VC_PER_VC_SIZEOF,
  PCI_CAP_VPD_SIZEOF,
  PCI_DPA_BASE_SIZEOF,
  PCI_DPA_CAP,
  PCI_DPA_CAP_SUBSTATE_MASK,
  PCI_DVSEC_HEADER1,
  PCI_DVSEC_HEADER1_LEN,
  PCI_ERR_ROOT_COMMAND,
  PCI_EXP_FLAGS,
  PCI_EXT_CAP_ARI_SIZEOF,
  PCI_EXT_CAP_ATS_SIZEOF,
  PCI_EXT_CAP_DSN_SIZEOF,
  PCI_EXT_CAP_ID_ACS,
  PCI_EXT_CAP_ID_ARI,
  PCI_EXT_CAP_ID_ATS,
  PCI_EXT_CAP_ID_DPA,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_DVSEC,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_LTR,
  PCI_EXT_CAP_ID_MCAST,
  PCI_EXT_CAP_ID_MFVC,
  PCI_EXT_CAP_ID_PRI,
  PCI_EXT_CAP_ID_PWR,
  PCI_EXT_CAP_ID_REBAR,
  PCI_EXT_CAP_ID_SRIOV,
  PCI_EXT_CAP_ID_TPH,
  PCI_EXT_CAP_ID_VC,
  PCI_EXT_CAP_ID_VC9,
  PCI_EXT_CAP_ID_VNDR,
  PCI_EXT_CAP_LTR_SIZEOF,
  PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF,
  PCI_EXT_CAP_PRI_SIZEOF,
  PCI_EXT_CAP_PWR_SIZEOF,
  PCI_EXT_CAP_SRIOV_SIZEOF,
  PCI_MSI_FLAGS,
  PCI_PM_SIZEOF,
  PCI_PWR_DATA,
  PCI_REBAR_CTRL,
  PCI_REBAR_CTRL_NBAR_MASK,
  PCI_REBAR_CTRL_NBAR_SHIFT,
  PCI_SATA_REGS,
  PCI_SATA_REGS_INLINE,
  PCI_SATA_REGS_MASK,
  PCI_SATA_SIZEOF_LONG,
  PCI_SATA_SIZEOF_SHORT,
  PCI_TPH_BASE_SIZEOF,
  PCI_TPH_CAP,
  PCI_TPH_CAP_LOC_MASK,
  PCI_TPH_CAP_ST_MASK,
  PCI_TPH_CAP_ST_SHIFT,
  PCI_TPH_LOC_CAP,
  PCI_VC_CAP1_EVCC,
  PCI_VC_CAP2_128_PHASE,
  PCI_VC_CAP2_32_PHASE,
  PCI_VC_CAP2_64_PHASE,
  PCI_VC_PORT_CAP1,
  PCI_VC_PORT_CAP2,
  PCI_VPD_ADDR,
  PCI_VPD_DATA,
  PCI_VSEC_HDR,
  PCI_VSEC_HDR_LEN_SHIFT,
  PCI_X_CMD,
  PCI_X_CMD_VERSION,
  PCI_X_ECC_CSR,
} from '../regs.js';
import { AerRegion } from './aer.js';
import { AfRegion } from './af.js';
import { msiLength, MsiRegion } from './msi.js';
import { MsixRegion } from './msix.js';
import { pcieLength, PcieRegion } from './pcie.js';
import { PmRegion } from './pm.js';
import { VendorRegion } from './vendor.js';

/** Reads the hardware config space: `size` bytes at absolute `offset`. */
export type RawRead = (offset: number, size: 1 | 2 | 4) => number;

/** Standard capabilities the kernel keeps, with fixed lengths; 0xff = computed. */
const STD_LENGTH: Record<number, number> = {
  [PCI_CAP_ID_PM]: PCI_PM_SIZEOF,
  [PCI_CAP_ID_AGP]: PCI_AGP_SIZEOF,
  [PCI_CAP_ID_VPD]: PCI_CAP_VPD_SIZEOF,
  [PCI_CAP_ID_MSI]: 0xff,
  [PCI_CAP_ID_PCIX]: 0xff,
  [PCI_CAP_ID_HT]: 0xff,
  [PCI_CAP_ID_VNDR]: 0xff,
  [PCI_CAP_ID_EXP]: 0xff,
  [PCI_CAP_ID_MSIX]: PCI_CAP_MSIX_SIZEOF,
  [PCI_CAP_ID_SATA]: 0xff,
  [PCI_CAP_ID_AF]: PCI_CAP_AF_SIZEOF,
};

/** Extended capabilities the kernel keeps; 0xff = computed. */
const EXT_LENGTH: Record<number, number> = {
  [PCI_EXT_CAP_ID_ERR]: PCI_ERR_ROOT_COMMAND,
  [PCI_EXT_CAP_ID_VC]: 0xff,
  [PCI_EXT_CAP_ID_DSN]: PCI_EXT_CAP_DSN_SIZEOF,
  [PCI_EXT_CAP_ID_PWR]: PCI_EXT_CAP_PWR_SIZEOF,
  [PCI_EXT_CAP_ID_MFVC]: 0xff,
  [PCI_EXT_CAP_ID_VC9]: 0xff,
  [PCI_EXT_CAP_ID_VNDR]: 0xff,
  [PCI_EXT_CAP_ID_ACS]: 0xff,
  [PCI_EXT_CAP_ID_ARI]: PCI_EXT_CAP_ARI_SIZEOF,
  [PCI_EXT_CAP_ID_ATS]: PCI_EXT_CAP_ATS_SIZEOF,
  [PCI_EXT_CAP_ID_SRIOV]: PCI_EXT_CAP_SRIOV_SIZEOF,
  [PCI_EXT_CAP_ID_MCAST]: PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF,
  [PCI_EXT_CAP_ID_PRI]: PCI_EXT_CAP_PRI_SIZEOF,
  [PCI_EXT_CAP_ID_REBAR]: 0xff,
  [PCI_EXT_CAP_ID_DPA]: 0xff,
  [PCI_EXT_CAP_ID_TPH]: 0xff,
  [PCI_EXT_CAP_ID_LTR]: PCI_EXT_CAP_LTR_SIZEOF,
  [PCI_EXT_CAP_ID_DVSEC]: 0xff,
};

/** Length of the standard capability `id` at `pos`, 0 when the kernel hides it. */
export function stdCapLength(read: RawRead, id: number, pos: number): number {
  const len = STD_LENGTH[id] ?? 0;
  if (len !== 0xff) return len;
  switch (id) {
    case PCI_CAP_ID_MSI:
      return msiLength(read(pos + PCI_MSI_FLAGS, 2));
    case PCI_CAP_ID_PCIX:
      return PCI_X_CMD_VERSION(read(pos + PCI_X_CMD, 2)) ? PCI_CAP_PCIX_SIZEOF_V2 : PCI_CAP_PCIX_SIZEOF_V0;
    case PCI_CAP_ID_VNDR:
      return read(pos + PCI_CAP_FLAGS, 1);
    case PCI_CAP_ID_EXP:
      return pcieLength(read(pos + PCI_EXP_FLAGS, 2));
    case PCI_CAP_ID_HT:
      return read(pos + 3, 1) & HT_3BIT_CAP_MASK ? HT_CAP_SIZEOF_SHORT : HT_CAP_SIZEOF_LONG;
    case PCI_CAP_ID_SATA:
      return (read(pos + PCI_SATA_REGS, 1) & PCI_SATA_REGS_MASK) === PCI_SATA_REGS_INLINE ? PCI_SATA_SIZEOF_LONG : PCI_SATA_SIZEOF_SHORT;
    default:
      return 0;
  }
}

function vcLength(read: RawRead, pos: number): number {
  const evcc = read(pos + PCI_VC_PORT_CAP1, 4) & PCI_VC_CAP1_EVCC;
  const cap2 = read(pos + PCI_VC_PORT_CAP2, 4);
  const phases = cap2 & PCI_VC_CAP2_128_PHASE ? 128 : cap2 & PCI_VC_CAP2_64_PHASE ? 64 : cap2 & PCI_VC_CAP2_32_PHASE ? 32 : 0;
  let len = PCI_CAP_VC_BASE_SIZEOF + (1 + evcc) * PCI_CAP_VC_PER_VC_SIZEOF;
  if (phases) len = ((len + 15) & ~15) + (phases * 4) / 8;
  return len;
}

/** Length of the extended capability `id` at `pos`, 0 when the kernel hides it. */
export function extCapLength(read: RawRead, id: number, pos: number): number {
  const len = EXT_LENGTH[id] ?? 0;
  if (len !== 0xff) return len;
  switch (id) {
    case PCI_EXT_CAP_ID_VNDR:
      return read(pos + PCI_VSEC_HDR, 4) >>> PCI_VSEC_HDR_LEN_SHIFT;
    case PCI_EXT_CAP_ID_VC:
    case PCI_EXT_CAP_ID_VC9:
    case PCI_EXT_CAP_ID_MFVC:
      return vcLength(read, pos);
    case PCI_EXT_CAP_ID_ACS: {
      if (read(pos + PCI_ACS_CAP, 1) & PCI_ACS_EC) {
        const b = read(pos + PCI_ACS_EGRESS_BITS, 1);
        const bits = b ? (b + 31) & ~31 : 256;
        return 8 + bits / 8;
      }
      return 8;
    }
    case PCI_EXT_CAP_ID_REBAR: {
      const n = (read(pos + PCI_REBAR_CTRL, 1) & PCI_REBAR_CTRL_NBAR_MASK) >> PCI_REBAR_CTRL_NBAR_SHIFT;
      return 4 + n * 8;
    }
    case PCI_EXT_CAP_ID_DPA:
      return PCI_DPA_BASE_SIZEOF + (read(pos + PCI_DPA_CAP, 1) & PCI_DPA_CAP_SUBSTATE_MASK) + 1;
    case PCI_EXT_CAP_ID_TPH: {
      const d = read(pos + PCI_TPH_CAP, 4);
      if ((d & PCI_TPH_CAP_LOC_MASK) === PCI_TPH_LOC_CAP) {
        const sts = (d & PCI_TPH_CAP_ST_MASK) >>> PCI_TPH_CAP_ST_SHIFT;
        return PCI_TPH_BASE_SIZEOF + sts * 2 + 2;
      }
      return PCI_TPH_BASE_SIZEOF;
    }
    case PCI_EXT_CAP_ID_DVSEC:
      return PCI_DVSEC_HEADER1_LEN(read(pos + PCI_DVSEC_HEADER1, 4));
    default:
      return 0;
  }
}

/** The Region implementing a capability region. */
export function createCapRegion(engine: Engine, spec: RegionSpec): Region {
  if (spec.kind === 'cap') {
    switch (spec.id) {
      case PCI_CAP_ID_PM:
        return new PmRegion(engine, spec);
      case PCI_CAP_ID_MSI:
        return new MsiRegion(engine, spec);
      case PCI_CAP_ID_MSIX:
        return new MsixRegion(engine, spec);
      case PCI_CAP_ID_EXP:
        return new PcieRegion(engine, spec);
      case PCI_CAP_ID_AF:
        return new AfRegion(engine, spec);
      case PCI_CAP_ID_VNDR:
        return new VendorRegion(engine, spec);
      case PCI_CAP_ID_PCIX: {
        const p = capPerms(spec);
        if (spec.length >= PCI_X_CMD + 2) p.setw(PCI_X_CMD, NO_VIRT, 0xffff);
        if (spec.length >= PCI_X_ECC_CSR + 4) p.setd(PCI_X_ECC_CSR, NO_VIRT, ALL_WRITE);
        return new Region(engine, spec, p);
      }
      case PCI_CAP_ID_VPD: {
        // Address and data are virtual and writable, as in the kernel; there is
        // no VPD backend, so a VPD read never completes (the F flag never flips).
        const p = capPerms(spec);
        p.setw(PCI_VPD_ADDR, 0xffff, 0xffff);
        p.setd(PCI_VPD_DATA, ALL_VIRT, ALL_WRITE);
        return new Region(engine, spec, p);
      }
      default:
        return new Region(engine, spec, capPerms(spec));
    }
  }
  if (spec.hidden) return new Region(engine, spec, capPerms(spec));
  switch (spec.id) {
    case PCI_EXT_CAP_ID_ERR:
      return new AerRegion(engine, spec);
    case PCI_EXT_CAP_ID_PWR: {
      // The kernel marks the data register byte writable (its comment says the selector).
      const p = capPerms(spec);
      p.setb(PCI_PWR_DATA, NO_VIRT, 0xff);
      return new Region(engine, spec, p);
    }
    case PCI_EXT_CAP_ID_VNDR:
    case PCI_EXT_CAP_ID_DVSEC: {
      // Raw writes to the device past the header dword.
      const p = capPerms(spec);
      for (let i = 4; i < spec.length; i++) p.write[i] = spec.writeMask ? (spec.writeMask[i] ?? 0) : 0xff;
      return new Region(engine, spec, p);
    }
    default:
      return new Region(engine, spec, capPerms(spec));
  }
}

const STD_NAMES: Record<number, string> = {
  0x01: 'Power Management',
  0x02: 'AGP',
  0x03: 'Vital Product Data',
  0x04: 'Slot Identification',
  0x05: 'MSI',
  0x06: 'CompactPCI hot-swap',
  0x07: 'PCI-X',
  0x08: 'HyperTransport',
  0x09: 'Vendor Specific',
  0x0a: 'Debug port',
  0x0b: 'CompactPCI central resource control',
  0x0c: 'Hot-plug',
  0x0d: 'Subsystem',
  0x0e: 'AGP3',
  0x0f: 'Secure device',
  0x10: 'Express',
  0x11: 'MSI-X',
  0x12: 'SATA HBA',
  0x13: 'PCI Advanced Features',
  0x14: 'Enhanced Allocation',
};

const EXT_NAMES: Record<number, string> = {
  0x01: 'Advanced Error Reporting',
  0x02: 'Virtual Channel',
  0x03: 'Device Serial Number',
  0x04: 'Power Budgeting',
  0x05: 'Root Complex Link',
  0x06: 'Root Complex Internal Link',
  0x07: 'Root Complex Event Collector',
  0x08: 'Multi-Function Virtual Channel',
  0x09: 'Virtual Channel',
  0x0a: 'Root Complex Register Block',
  0x0b: 'Vendor Specific Information',
  0x0c: 'Config Request Retry',
  0x0d: 'Access Control Services',
  0x0e: 'Alternative Routing-ID Interpretation (ARI)',
  0x0f: 'Address Translation Service (ATS)',
  0x10: 'Single Root I/O Virtualization (SR-IOV)',
  0x11: 'Multi-Root I/O Virtualization (MR-IOV)',
  0x12: 'Multicast',
  0x13: 'Page Request Interface (PRI)',
  0x15: 'Physical Resizable BAR',
  0x16: 'Dynamic Power Allocation',
  0x17: 'Transaction Processing Hints',
  0x18: 'Latency Tolerance Reporting',
  0x19: 'Secondary PCI Express',
  0x1a: 'Protocol Multiplexing',
  0x1b: 'Process Address Space ID (PASID)',
  0x1d: 'Downstream Port Containment',
  0x1e: 'L1 PM Substates',
  0x1f: 'Precision Time Measurement',
  0x23: 'Designated Vendor-Specific',
  0x25: 'Data Link Feature',
  0x26: 'Physical Layer 16.0 GT/s',
  0x2e: 'Data Object Exchange',
};

/** Human name of a capability ID. */
export function capabilityName(id: number, extended: boolean): string {
  const n = (extended ? EXT_NAMES : STD_NAMES)[id];
  return n ?? `${extended ? 'Extended capability' : 'Capability'} ID 0x${id.toString(16).padStart(extended ? 4 : 2, '0')}`;
}
