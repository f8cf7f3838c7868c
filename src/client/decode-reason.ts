// Why a PCI device refused a BAR or ROM access. The kernel's vfio-pci and the
// vfio-user wire both report only EIO; the cause a driver usually needs to
// hear - decode turned off in COMMAND, or the function in D3hot - is in config
// space, so it is read back here, on the error path only.

import {
  PCI_BASE_ADDRESS_0,
  PCI_CAP_ID_PM,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_PM_CTRL,
  PCI_PM_CTRL_STATE_MASK,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
} from '../pci/regs.js';
import { pciRegion } from '../uapi/vfio.js';
import type { Region } from './region.js';

const D3HOT = 3;
const MAX_CAPS = 48; // a standard capability list cannot hold more in 192 bytes

/** The reason config space gives for an EIO on region `index`, or undefined. */
export function decodeRefusalReason(config: Region, index: number): string | undefined {
  if (index > pciRegion.ROM) return undefined;
  const name = index === pciRegion.ROM ? 'ROM' : `BAR${index}`;
  const io = index !== pciRegion.ROM && (config.read32(PCI_BASE_ADDRESS_0 + 4 * index) & 1) === 1;
  const command = config.read16(PCI_COMMAND);
  const bit = io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
  if ((command & bit) === 0) {
    return `${name} access while ${io ? 'I/O' : 'memory'} decode is off (COMMAND.${io ? 'IO' : 'MEM'} = 0; set it in config space first)`;
  }
  if (powerState(config) === D3HOT) return `${name} access while the function is in D3hot (PMCSR)`;
  return undefined;
}

function powerState(config: Region): number | undefined {
  if ((config.read16(PCI_STATUS) & PCI_STATUS_CAP_LIST) === 0) return undefined;
  let at = config.read8(PCI_CAPABILITY_LIST) & 0xfc;
  for (let n = 0; at !== 0 && n < MAX_CAPS; n++) {
    if (config.read8(at) === PCI_CAP_ID_PM) return config.read16(at + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK;
    at = config.read8(at + 1) & 0xfc;
  }
  return undefined;
}
