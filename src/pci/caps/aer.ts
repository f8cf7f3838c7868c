// Advanced Error Reporting extended capability (endpoint part, 0x2c bytes).
//
// Model (the kernel's init_pci_ext_cap_err_perm): the header dword is virtual;
// the uncorrectable status, mask and severity registers are writable for the
// error bits the kernel lists (Undefined, DLP, Surprise Down, Poisoned TLP,
// FCP, Completion Timeout, Completer Abort, Unexpected Completion, Receiver
// Overflow, Malformed TLP, ECRC, Unsupported Request, ACS Violation, Internal,
// MC Blocked TLP, AtomicOp Egress Blocked, TLP Prefix Blocked); the
// correctable status and mask for its correctable bits; the AER capabilities
// register for ECRC generation/check enable. These writes pass through to the
// device, whose registers behave as the spec says: status bits are
// write-1-to-clear, masks/severity read-write, ECRC enables writable only when
// the matching "capable" bit is set. The header log is read-only. The device
// model records errors with `recordAerError`.

import { ErrnoError } from '../../errors.js';
import type { ConfigBacking } from '../backing.js';
import { NO_VIRT } from '../perms.js';
import { capPerms, Region, type Engine, type RegionSpec } from '../region.js';
import {
  PCI_ERR_CAP,
  PCI_ERR_CAP_ECRC_CHKC,
  PCI_ERR_CAP_ECRC_CHKE,
  PCI_ERR_CAP_ECRC_GENC,
  PCI_ERR_CAP_ECRC_GENE,
  PCI_ERR_COR_ADV_NFAT,
  PCI_ERR_COR_BAD_DLLP,
  PCI_ERR_COR_BAD_TLP,
  PCI_ERR_COR_INTERNAL,
  PCI_ERR_COR_LOG_OVER,
  PCI_ERR_COR_MASK,
  PCI_ERR_COR_RCVR,
  PCI_ERR_COR_REP_ROLL,
  PCI_ERR_COR_REP_TIMER,
  PCI_ERR_COR_STATUS,
  PCI_ERR_ROOT_COMMAND,
  PCI_ERR_UNC_ACSV,
  PCI_ERR_UNC_ATOMEG,
  PCI_ERR_UNC_COMP_ABORT,
  PCI_ERR_UNC_COMP_TIME,
  PCI_ERR_UNC_DLP,
  PCI_ERR_UNC_ECRC,
  PCI_ERR_UNC_FCP,
  PCI_ERR_UNC_INTN,
  PCI_ERR_UNC_MALF_TLP,
  PCI_ERR_UNC_MCBTLP,
  PCI_ERR_UNC_POISON_TLP,
  PCI_ERR_UNC_RX_OVER,
  PCI_ERR_UNC_SURPDN,
  PCI_ERR_UNC_TLPPRE,
  PCI_ERR_UNC_UND,
  PCI_ERR_UNC_UNSUP,
  PCI_ERR_UNC_UNX_COMP,
  PCI_ERR_UNCOR_MASK,
  PCI_ERR_UNCOR_SEVER,
  PCI_ERR_UNCOR_STATUS,
  PCI_EXT_CAP_ID_ERR,
} from '../regs.js';
import { ImageWriter, type CapImage } from './image.js';
import { layoutError } from '../layout-error.js';

/** Uncorrectable error bits the user may write (status/mask/severity). */
export const AER_UNCOR_WRITABLE =
  (PCI_ERR_UNC_UND |
    PCI_ERR_UNC_DLP |
    PCI_ERR_UNC_SURPDN |
    PCI_ERR_UNC_POISON_TLP |
    PCI_ERR_UNC_FCP |
    PCI_ERR_UNC_COMP_TIME |
    PCI_ERR_UNC_COMP_ABORT |
    PCI_ERR_UNC_UNX_COMP |
    PCI_ERR_UNC_RX_OVER |
    PCI_ERR_UNC_MALF_TLP |
    PCI_ERR_UNC_ECRC |
    PCI_ERR_UNC_UNSUP |
    PCI_ERR_UNC_ACSV |
    PCI_ERR_UNC_INTN |
    PCI_ERR_UNC_MCBTLP |
    PCI_ERR_UNC_ATOMEG |
    PCI_ERR_UNC_TLPPRE) >>>
  0;

/** Correctable error bits the user may write (status/mask). */
export const AER_COR_WRITABLE =
  (PCI_ERR_COR_RCVR |
    PCI_ERR_COR_BAD_TLP |
    PCI_ERR_COR_BAD_DLLP |
    PCI_ERR_COR_REP_ROLL |
    PCI_ERR_COR_REP_TIMER |
    PCI_ERR_COR_ADV_NFAT |
    PCI_ERR_COR_INTERNAL |
    PCI_ERR_COR_LOG_OVER) >>>
  0;

/** Spec default severity: DLP, Surprise Down, FCP, Receiver Overflow, Malformed TLP, Internal fatal. */
export const AER_DEFAULT_SEVERITY =
  (PCI_ERR_UNC_DLP | PCI_ERR_UNC_SURPDN | PCI_ERR_UNC_FCP | PCI_ERR_UNC_RX_OVER | PCI_ERR_UNC_MALF_TLP | PCI_ERR_UNC_INTN) >>> 0;

/** Declares an Advanced Error Reporting extended capability. */
export interface AerDecl {
  id: 'aer';
  offset?: number;
  /** Capability version nibble (default 2). */
  version?: number;
  ecrcGenerationCapable?: boolean;
  ecrcCheckCapable?: boolean;
  /** Power-on uncorrectable mask (default 0). */
  uncorrectableMask?: number;
  /** Power-on uncorrectable severity (default the spec's). */
  uncorrectableSeverity?: number;
  /** Power-on correctable mask (default: Advisory Non-Fatal masked, as the spec says). */
  correctableMask?: number;
}

export function encodeAer(d: AerDecl): CapImage {
  const version = d.version ?? 2;
  if (version !== 1 && version !== 2) throw layoutError('bad-value', `AER version ${version} is not 1 or 2`);
  let cap = 0;
  if (d.ecrcGenerationCapable) cap |= PCI_ERR_CAP_ECRC_GENC;
  if (d.ecrcCheckCapable) cap |= PCI_ERR_CAP_ECRC_CHKC;
  const img = new ImageWriter(PCI_ERR_ROOT_COMMAND)
    .d(PCI_ERR_UNCOR_MASK, (d.uncorrectableMask ?? 0) & AER_UNCOR_WRITABLE)
    .d(PCI_ERR_UNCOR_SEVER, (d.uncorrectableSeverity ?? AER_DEFAULT_SEVERITY) & AER_UNCOR_WRITABLE)
    .d(PCI_ERR_COR_MASK, (d.correctableMask ?? PCI_ERR_COR_ADV_NFAT) & AER_COR_WRITABLE)
    .d(PCI_ERR_CAP, cap);
  img.rw1c(PCI_ERR_UNCOR_STATUS, 4, AER_UNCOR_WRITABLE);
  img.rw(PCI_ERR_UNCOR_MASK, 4, AER_UNCOR_WRITABLE);
  img.rw(PCI_ERR_UNCOR_SEVER, 4, AER_UNCOR_WRITABLE);
  img.rw1c(PCI_ERR_COR_STATUS, 4, AER_COR_WRITABLE);
  img.rw(PCI_ERR_COR_MASK, 4, AER_COR_WRITABLE);
  let capRw = 0;
  if (d.ecrcGenerationCapable) capRw |= PCI_ERR_CAP_ECRC_GENE;
  if (d.ecrcCheckCapable) capRw |= PCI_ERR_CAP_ECRC_CHKE;
  img.rw(PCI_ERR_CAP, 4, capRw);
  return { id: PCI_EXT_CAP_ID_ERR, extended: true, version, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

export class AerRegion extends Region {
  constructor(engine: Engine, spec: RegionSpec) {
    const p = capPerms(spec);
    const set = (off: number, mask: number): void => {
      if (spec.length >= off + 4) p.setd(off, NO_VIRT, mask);
    };
    set(PCI_ERR_UNCOR_STATUS, AER_UNCOR_WRITABLE);
    set(PCI_ERR_UNCOR_MASK, AER_UNCOR_WRITABLE);
    set(PCI_ERR_UNCOR_SEVER, AER_UNCOR_WRITABLE);
    set(PCI_ERR_COR_STATUS, AER_COR_WRITABLE);
    set(PCI_ERR_COR_MASK, AER_COR_WRITABLE);
    set(PCI_ERR_CAP, PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
    super(engine, spec, p);
  }
}

/**
 * Device side: record errors in the AER status registers of the capability at
 * `capOffset` (bits are ORed in; the user clears them by writing 1s).
 */
export function recordAerError(backing: ConfigBacking, capOffset: number, errors: { uncorrectable?: number; correctable?: number }): void {
  const put = (off: number, bits: number | undefined): void => {
    if (!bits) return;
    const cur = backing.read(capOffset + off, 4);
    const next = (cur | bits) >>> 0;
    if (!backing.set) throw new ErrnoError('ENOTSUP', 'this backing cannot record device errors');
    backing.set(capOffset + off, 4, next);
  };
  put(PCI_ERR_UNCOR_STATUS, errors.uncorrectable);
  put(PCI_ERR_COR_STATUS, errors.correctable);
}
