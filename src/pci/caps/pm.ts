// Power Management capability (PCI PM 1.2).
//
// Model (the kernel's): power management is per function, so the user may
// change the D-state, but the write is trapped: the state bits of PMCSR are
// not user-writable; the engine decodes the requested state from the written
// value, performs the change on the backing (the "hardware") and tells the
// owner (onPowerStateChange(from, to)). The new state reads back. Requests for
// D1/D2 on a function that does not advertise them are ignored, as the kernel's
// pci_set_power_state refuses them. PME is reported unsupported: the PME
// support bits of PMC and PME_En/PME_Status of PMCSR are virtual and zero.
// D3hot->D0 on a function without No_Soft_Reset resets the function.

import type { AccessSize } from '../backing.js';
import { NO_WRITE } from '../perms.js';
import { capPerms, Region, type Engine, type PowerState, type RegionSpec, type ResetKind } from '../region.js';
import {
  PCI_CAP_ID_PM,
  PCI_PM_CAP_AUX_POWER,
  PCI_PM_CAP_D1,
  PCI_PM_CAP_D2,
  PCI_PM_CAP_DSI,
  PCI_PM_CAP_PME_MASK,
  PCI_PM_CAP_VER_MASK,
  PCI_PM_CTRL,
  PCI_PM_CTRL_NO_SOFT_RESET,
  PCI_PM_CTRL_PME_ENABLE,
  PCI_PM_CTRL_PME_STATUS,
  PCI_PM_CTRL_STATE_MASK,
  PCI_PM_PMC,
  PCI_PM_SIZEOF,
} from '../regs.js';
import { layoutError } from '../layout-error.js';
import { ImageWriter, type CapImage } from './image.js';

/** Declares a PCI Power Management capability. */
export interface PmDecl {
  id: 'pm';
  offset?: number;
  /** PMC version field; 3 = PCI PM 1.2 (default). */
  version?: number;
  d1?: boolean;
  d2?: boolean;
  /** No_Soft_Reset: D3hot->D0 keeps the function's state (default true). */
  noSoftReset?: boolean;
  /** Aux_Current field, 0..7. */
  auxCurrent?: number;
  /** Device specific initialization required. */
  dsi?: boolean;
}

export function encodePm(d: PmDecl): CapImage {
  const version = d.version ?? 3;
  if (!Number.isInteger(version) || version < 1 || version > PCI_PM_CAP_VER_MASK) {
    throw layoutError('bad-value', `PM version ${version} is outside 1..7`);
  }
  const aux = d.auxCurrent ?? 0;
  if (!Number.isInteger(aux) || aux < 0 || aux > 7) throw layoutError('bad-value', `PM auxCurrent ${aux} is outside 0..7`);
  let pmc = version | ((aux << 6) & PCI_PM_CAP_AUX_POWER);
  if (d.dsi) pmc |= PCI_PM_CAP_DSI;
  if (d.d1) pmc |= PCI_PM_CAP_D1;
  if (d.d2) pmc |= PCI_PM_CAP_D2;
  const pmcsr = d.noSoftReset === false ? 0 : PCI_PM_CTRL_NO_SOFT_RESET;
  const img = new ImageWriter(PCI_PM_SIZEOF).w(PCI_PM_PMC, pmc).w(PCI_PM_CTRL, pmcsr);
  // Hardware: the state field is the only writable PMCSR field (no PME, no data register).
  img.rw(PCI_PM_CTRL, 2, PCI_PM_CTRL_STATE_MASK);
  return { id: PCI_CAP_ID_PM, extended: false, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

export class PmRegion extends Region {
  constructor(engine: Engine, spec: RegionSpec) {
    const p = capPerms(spec);
    p.setw(PCI_PM_PMC, PCI_PM_CAP_PME_MASK, NO_WRITE);
    p.setd(
      PCI_PM_CTRL,
      PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS,
      ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS | PCI_PM_CTRL_STATE_MASK) >>> 0,
    );
    super(engine, spec, p);
  }

  override reset(_kind: ResetKind): void {
    // PME support, PME_En and PME_Status read as zero (the kernel clears its vconfig copy).
    this.shadowSet(PCI_PM_PMC, 2, this.shadowGet(PCI_PM_PMC, 2) & ~PCI_PM_CAP_PME_MASK);
    this.shadowSet(PCI_PM_CTRL, 2, this.shadowGet(PCI_PM_CTRL, 2) & ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS));
  }

  get powerState(): PowerState {
    return (this.effective(PCI_PM_CTRL, 2) & PCI_PM_CTRL_STATE_MASK) as PowerState;
  }

  supports(state: PowerState): boolean {
    const pmc = this.hwGet(PCI_PM_PMC, 2);
    if (state === 1) return (pmc & PCI_PM_CAP_D1) !== 0;
    if (state === 2) return (pmc & PCI_PM_CAP_D2) !== 0;
    return true;
  }

  override write(off: number, count: AccessSize, value: number): void {
    this.defaultWrite(off, count, value);
    // Accesses never cross a dword, so one that reaches the state bits starts at PMCSR.
    if (off !== PCI_PM_CTRL) return;
    const to = (value & PCI_PM_CTRL_STATE_MASK) as PowerState;
    const from = this.powerState;
    if (to === from || !this.supports(to)) return;
    this.setState(to);
    this.engine.hooks.onPowerStateChange?.(from, to);
    const noSoftReset = (this.hwGet(PCI_PM_CTRL, 2) & PCI_PM_CTRL_NO_SOFT_RESET) !== 0;
    if (from === 3 && to === 0 && !noSoftReset) this.engine.functionReset('pm-soft-reset');
  }

  /** Perform a state change on the backing. */
  setState(to: PowerState): void {
    const cur = this.hwGet(PCI_PM_CTRL, 2);
    this.hwWrite(PCI_PM_CTRL, 2, (cur & ~PCI_PM_CTRL_STATE_MASK) | to);
  }
}
