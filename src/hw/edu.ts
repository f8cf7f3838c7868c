// QEMU's educational device "edu" (QEMU's hw/misc/edu.c, docs/specs/edu.rst),
// as its model (src/devices/edu.ts) and its drivers (src/drivers/edu/) both
// see it: identity, BAR0 registers and their bits, the DMA engine's window.
//
//   offset  dir  register
//   0x00    R    identification 0xRRrr00ed: major RR, minor rr, 0xed
//   0x04    RW   liveness check: reads back ~(last value written)
//   0x08    RW   factorial: write n to start computing n! (mod 2^32), read the result
//   0x20    RW   status: 0x01 busy computing (RO), 0x80 interrupt when the factorial is done
//   0x24    R    interrupt status: 0x001 factorial done, 0x100 DMA done, others raised by 0x60
//   0x60    W    raise interrupt: status |= value
//   0x64    W    acknowledge interrupt: status &= ~value
//   0x80    RW   DMA source address       }  64-bit registers; a 4-byte write
//   0x88    RW   DMA destination address  }  sets the whole register (zero-extended)
//   0x90    RW   DMA count (bytes)        }
//   0x98    RW   DMA command: 0x1 start (reads 1 while running), 0x2 edu -> RAM
//                (clear: RAM -> edu), 0x4 interrupt 0x100 when done

/** PCI vendor ID of QEMU's edu (1234h, QEMU's own). */
export const EDU_VENDOR_ID = 0x1234;
/** PCI device ID of QEMU's edu. */
export const EDU_DEVICE_ID = 0x11e8;
/** PCI revision ID of QEMU's edu. */
export const EDU_REVISION = 0x10;
/** Class 00ffh ("other"), programming interface 0. */
export const EDU_CLASS = 0x00ff00;
/** BAR0: 32-bit non-prefetchable memory. */
export const EDU_BAR0_SIZE = 1 << 20;

/** BAR0 register offsets. */
export const EduReg = {
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
} as const;

/** The identification register: version 1.0 (what QEMU's edu reports). */
export const EDU_ID_VALUE = 0x010000ed;
/** Its low 16 bits on every edu. */
export const EDU_ID_SIGNATURE = 0x00ed;

/** Status register bit 0x01: a factorial is being computed (read-only). */
export const EDU_STATUS_COMPUTING = 0x01;
/** Status register bit 0x80: raise interrupt 0x001 when the factorial is done. */
export const EDU_STATUS_IRQFACT = 0x80;

/** Interrupt status bit the device raises when a factorial is done. */
export const EDU_IRQ_FACTORIAL = 0x001;
/** Interrupt status bit the device raises when a DMA transfer is done. */
export const EDU_IRQ_DMA = 0x100;

/** DMA command bit 0x1: start the transfer (reads 1 while it runs). */
export const EDU_DMA_RUN = 0x1;
/** DMA command bit 0x2: direction edu -> RAM (clear: RAM -> edu). */
export const EDU_DMA_TO_RAM = 0x2;
/** DMA command bit 0x4: raise interrupt 0x100 when the transfer is done. */
export const EDU_DMA_WITH_IRQ = 0x4;

/** Address of edu's DMA buffer in edu's own address space (the DMA source or destination on edu's side). */
export const EDU_BUFFER_ADDR = 0x40000;
/** Size of edu's DMA buffer, bytes: the largest DMA count. */
export const EDU_BUFFER_SIZE = 4096;

/** Highest RAM address + 1 edu reaches (QEMU's default dma_mask is 28 bits): pass it as allocDma's `limit`. */
export const EDU_DMA_LIMIT = 1n << 28n;
/** The mask edu ANDs RAM addresses with. */
export const EDU_DMA_MASK = EDU_DMA_LIMIT - 1n;
