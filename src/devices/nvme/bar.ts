// BAR0 as this model lays it out (the registers are in src/hw/nvme/regs.ts):
//
// BAR0 (64-bit memory, 16 KiB):
//   0x0000-0x0fff  controller registers (trapped: REGION_READ/WRITE to the model)
//   0x1000-0x1fff  doorbells, CAP.DSTRD = 0 (4-byte stride): SQy tail at
//                  0x1000 + 8y, CQy head at 0x1000 + 8y + 4. Shared memory:
//                  the client mmaps this page and the model polls it.
//   0x2000-0x2fff  MSI-X table (up to 256 vectors; the framework's)
//   0x3000-0x3fff  MSI-X PBA (the framework's)

import { REG } from '../../hw/nvme/regs.js';

/** Size of BAR0: registers, doorbells, MSI-X table and PBA, one 4 KiB page each. */
export const BAR0_SIZE = 0x4000;
/** Where the doorbells start in BAR0 (0x1000, as the specification places them). */
export const DOORBELL_OFFSET = REG.DOORBELLS;
/** The doorbell page: shared memory the client maps, polled by the model. */
export const DOORBELL_PAGE_SIZE = 0x1000;
/** Where the MSI-X table sits in BAR0. */
export const MSIX_TABLE_OFFSET = 0x2000;
/** Where the MSI-X pending-bit array sits in BAR0. */
export const MSIX_PBA_OFFSET = 0x3000;
/** The registers the model implements: 0x00-0x3f (CAP to ACQ; no CMB, no PMR). */
export const REGISTERS_END = 0x40;
