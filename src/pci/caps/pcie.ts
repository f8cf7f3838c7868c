// PCI Express capability, version 2.
//
// Declared devices are endpoints (Express endpoint, legacy endpoint or root-
// complex integrated endpoint without a link). Model (the kernel's
// init_pci_cap_exp_perm / vfio_exp_config_write):
//   - Device Control: everything but Phantom Functions Enable is writable.
//     Initiate-FLR, Max_Payload_Size and Max_Read_Request_Size are virtual;
//     the other bits pass through to the backing (where hardware decides).
//     Writing Initiate-FLR resets the function when Device Capabilities
//     advertises FLR, and the bit always reads back 0.
//   - Device Control 2: writable except ARI Forwarding Enable, pass-through.
//   - Everything else (capabilities, status, link registers) is read-only.

import type { AccessSize } from '../backing.js';
import { layoutError } from '../layout-error.js';
import { NO_VIRT } from '../perms.js';
import { capPerms, Region, type Engine, type RegionSpec } from '../region.js';
import {
  PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
  PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2,
  PCI_CAP_ID_EXP,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP2_COMP_TMOUT_DIS,
  PCI_EXP_DEVCAP2_LTR,
  PCI_EXP_DEVCAP_EXT_TAG,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCAP_RBER,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVCTL2_ARI,
  PCI_EXP_DEVCTL2_COMP_TIMEOUT,
  PCI_EXP_DEVCTL2_COMP_TMOUT_DIS,
  PCI_EXP_DEVCTL2_LTR_EN,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_EXP_DEVCTL_CERE,
  PCI_EXP_DEVCTL_EXT_TAG,
  PCI_EXP_DEVCTL_FERE,
  PCI_EXP_DEVCTL_NFERE,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_PAYLOAD,
  PCI_EXP_DEVCTL_PHANTOM,
  PCI_EXP_DEVCTL_READRQ,
  PCI_EXP_DEVCTL_READRQ_512B,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_EXP_DEVCTL_URRE,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_IRQ,
  PCI_EXP_FLAGS_TYPE,
  PCI_EXP_FLAGS_VERS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_RC_END,
} from '../regs.js';
import { ImageWriter, type CapImage } from './image.js';

/** Device/Port Type an endpoint may declare: Endpoint, Legacy Endpoint or Root Complex Integrated Endpoint. */
export type PcieEndpointType = 'endpoint' | 'legacy-endpoint' | 'rc-endpoint';

/** Declares a version 2 PCI Express capability of an endpoint (a root-complex integrated one has no link registers). */
export interface PcieDecl {
  id: 'pcie';
  offset?: number;
  /** Device/port type (default 'endpoint'). */
  portType?: PcieEndpointType;
  /** Max_Payload_Size supported, bytes 128..4096 (default 256). */
  maxPayload?: number;
  /** Function Level Reset capable (default true). */
  flr?: boolean;
  /** Extended tag field supported (default true). */
  extendedTag?: boolean;
  /** Link speed generation 1..6 (2.5, 5, 8, 16, 32, 64 GT/s; default 1). */
  linkSpeed?: number;
  /** Link width x1..x32 (default 1). */
  linkWidth?: number;
  /** Raw Device Capabilities 2 (default 0). */
  devcap2?: number;
  /** Interrupt message number, 0..31. */
  interruptMessage?: number;
}

const TYPE_CODE: Record<PcieEndpointType, number> = {
  endpoint: PCI_EXP_TYPE_ENDPOINT,
  'legacy-endpoint': PCI_EXP_TYPE_LEG_END,
  'rc-endpoint': PCI_EXP_TYPE_RC_END,
};

/** Length of a PCIe capability for its flags register (the kernel's rule). */
export function pcieLength(flags: number): number {
  const type = (flags & PCI_EXP_FLAGS_TYPE) >> 4;
  if ((flags & PCI_EXP_FLAGS_VERS) === 1) return type === PCI_EXP_TYPE_RC_END ? 0xc : 20;
  return type === PCI_EXP_TYPE_RC_END ? PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2 : PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
}

export function encodePcie(d: PcieDecl): CapImage {
  const portType = d.portType ?? 'endpoint';
  const type = TYPE_CODE[portType];
  if (type === undefined) throw layoutError('bad-value', `PCIe port type ${String(portType)} is not an endpoint type`);
  const mps = d.maxPayload ?? 256;
  const mpsCode = [128, 256, 512, 1024, 2048, 4096].indexOf(mps);
  if (mpsCode < 0) throw layoutError('bad-value', `PCIe maxPayload ${mps} is not one of 128..4096`);
  const speed = d.linkSpeed ?? 1;
  if (!Number.isInteger(speed) || speed < 1 || speed > 6) throw layoutError('bad-value', `PCIe linkSpeed ${speed} is outside 1..6`);
  const width = d.linkWidth ?? 1;
  if (![1, 2, 4, 8, 12, 16, 32].includes(width)) throw layoutError('bad-value', `PCIe linkWidth ${width} is not a link width`);
  const irq = d.interruptMessage ?? 0;
  if (!Number.isInteger(irq) || irq < 0 || irq > 31) throw layoutError('bad-value', `PCIe interruptMessage ${irq} is outside 0..31`);
  const flags = 2 | (type << 4) | ((irq << 9) & PCI_EXP_FLAGS_IRQ);
  const len = pcieLength(flags);
  const extTag = d.extendedTag !== false;
  let devcap = mpsCode | PCI_EXP_DEVCAP_RBER;
  if (extTag) devcap |= PCI_EXP_DEVCAP_EXT_TAG;
  if (d.flr !== false) devcap |= PCI_EXP_DEVCAP_FLR;
  const devcap2 = (d.devcap2 ?? 0) >>> 0;
  const img = new ImageWriter(len)
    .w(PCI_EXP_FLAGS, flags)
    .d(PCI_EXP_DEVCAP, devcap)
    // Spec defaults: relaxed ordering and no-snoop enabled, 512-byte read requests, 128-byte payload.
    .w(PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | PCI_EXP_DEVCTL_READRQ_512B)
    .d(PCI_EXP_DEVCAP2, devcap2);
  let devctlRw =
    PCI_EXP_DEVCTL_CERE |
    PCI_EXP_DEVCTL_NFERE |
    PCI_EXP_DEVCTL_FERE |
    PCI_EXP_DEVCTL_URRE |
    PCI_EXP_DEVCTL_RELAX_EN |
    PCI_EXP_DEVCTL_NOSNOOP_EN;
  if (extTag) devctlRw |= PCI_EXP_DEVCTL_EXT_TAG;
  img.rw(PCI_EXP_DEVCTL, 2, devctlRw);
  let devctl2Rw = 0;
  if (devcap2 & 0xf) devctl2Rw |= PCI_EXP_DEVCTL2_COMP_TIMEOUT;
  if (devcap2 & PCI_EXP_DEVCAP2_COMP_TMOUT_DIS) devctl2Rw |= PCI_EXP_DEVCTL2_COMP_TMOUT_DIS;
  if (devcap2 & PCI_EXP_DEVCAP2_LTR) devctl2Rw |= PCI_EXP_DEVCTL2_LTR_EN;
  img.rw(PCI_EXP_DEVCTL2, 2, devctl2Rw);
  if (type !== PCI_EXP_TYPE_RC_END) {
    img
      .d(PCI_EXP_LNKCAP, speed | (width << 4))
      .w(PCI_EXP_LNKSTA, speed | (width << 4))
      .d(PCI_EXP_LNKCAP2, ((1 << speed) - 1) << 1)
      .w(PCI_EXP_LNKCTL2, speed);
  }
  return { id: PCI_CAP_ID_EXP, extended: false, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

export class PcieRegion extends Region {
  constructor(engine: Engine, spec: RegionSpec) {
    const p = capPerms(spec);
    if (spec.length >= PCI_EXP_DEVCTL + 2) {
      p.setw(PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ, ~PCI_EXP_DEVCTL_PHANTOM & 0xffff);
    }
    if (spec.length >= PCI_EXP_DEVCTL2 + 2) p.setw(PCI_EXP_DEVCTL2, NO_VIRT, ~PCI_EXP_DEVCTL2_ARI & 0xffff);
    super(engine, spec, p);
  }

  get flrCapable(): boolean {
    return (this.hwGet(PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) !== 0;
  }

  override write(off: number, count: AccessSize, value: number): void {
    this.defaultWrite(off, count, value);
    const ctl = this.shadowGet(PCI_EXP_DEVCTL, 2);
    if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
      this.shadowSet(PCI_EXP_DEVCTL, 2, ctl & ~PCI_EXP_DEVCTL_BCR_FLR);
      if (this.flrCapable) this.engine.functionReset('pcie-flr');
    }
  }
}
