// PCI configuration-space register facts, named as in Linux's <linux/pci_regs.h>.
//
// Only the offsets and bits the config-space engine, the decoder and the tests
// use are listed; each value was taken from the machine's
// /usr/include/linux/pci_regs.h. Offsets inside a capability are relative to
// the capability's start. Masks are unsigned 32-bit numbers; combine them with
// `>>> 0` after bitwise operators when bit 31 may be set.

// ---- Config space sizes
/** Size of conventional PCI configuration space (256 bytes). */
export const PCI_CFG_SPACE_SIZE = 256;
/** Size of PCI Express configuration space, extended space included (4096 bytes). */
export const PCI_CFG_SPACE_EXP_SIZE = 4096;
/** Size of the standard type 0/1 configuration header (64 bytes); capabilities start at or after it. */
export const PCI_STD_HEADER_SIZEOF = 64;
/** Number of Base Address Registers in a type 0 header. */
export const PCI_STD_NUM_BARS = 6;

// ---- Type 0 header
/** Vendor ID register (16 bits). */
export const PCI_VENDOR_ID = 0x00;
/** Device ID register (16 bits). */
export const PCI_DEVICE_ID = 0x02;
/** Command register (16 bits). */
export const PCI_COMMAND = 0x04;
/** COMMAND: respond to I/O space accesses. */
export const PCI_COMMAND_IO = 0x1;
/** COMMAND: respond to memory space accesses. */
export const PCI_COMMAND_MEMORY = 0x2;
/** COMMAND: Bus Master Enable: the function may issue memory and I/O requests (DMA, MSI). */
export const PCI_COMMAND_MASTER = 0x4;
/** COMMAND: Special Cycle Enable: monitor Special Cycle operations. */
export const PCI_COMMAND_SPECIAL = 0x8;
/** COMMAND: Memory Write and Invalidate Enable. */
export const PCI_COMMAND_INVALIDATE = 0x10;
/** COMMAND: VGA Palette Snoop Enable. */
export const PCI_COMMAND_VGA_PALETTE = 0x20;
/** COMMAND: Parity Error Response: act on detected parity errors. */
export const PCI_COMMAND_PARITY = 0x40;
/** COMMAND: IDSEL Stepping/Wait Cycle Control (hardwired to 0 since PCI 3.0). */
export const PCI_COMMAND_WAIT = 0x80;
/** COMMAND: SERR# Enable: report system errors. */
export const PCI_COMMAND_SERR = 0x100;
/** COMMAND: Fast Back-to-Back Transactions Enable. */
export const PCI_COMMAND_FAST_BACK = 0x200;
/** COMMAND: Interrupt Disable: the function may not assert INTx. */
export const PCI_COMMAND_INTX_DISABLE = 0x400;

/** Status register (16 bits). */
export const PCI_STATUS = 0x06;
/** STATUS: Immediate Readiness: the function needs no delay before config accesses after reset. */
export const PCI_STATUS_IMM_READY = 0x01;
/** STATUS: Interrupt Status: the function has an INTx interrupt pending. */
export const PCI_STATUS_INTERRUPT = 0x08;
/** STATUS: Capabilities List: the Capabilities Pointer at 0x34 is valid. */
export const PCI_STATUS_CAP_LIST = 0x10;
/** STATUS: 66 MHz Capable. */
export const PCI_STATUS_66MHZ = 0x20;
/** STATUS: User Definable Features supported (obsolete). */
export const PCI_STATUS_UDF = 0x40;
/** STATUS: Fast Back-to-Back Transactions Capable. */
export const PCI_STATUS_FAST_BACK = 0x80;
/** STATUS: Master Data Parity Error: a parity error was seen on a request this function issued. */
export const PCI_STATUS_PARITY = 0x100;
/** STATUS: DEVSEL timing field (bits 10:9). */
export const PCI_STATUS_DEVSEL_MASK = 0x600;
/** STATUS: Signaled Target Abort. */
export const PCI_STATUS_SIG_TARGET_ABORT = 0x800;
/** STATUS: Received Target Abort. */
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
/** STATUS: Received Master Abort. */
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
/** STATUS: Signaled System Error (SERR#). */
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
/** STATUS: Detected Parity Error. */
export const PCI_STATUS_DETECTED_PARITY = 0x8000;

/** Revision ID and Class Code read as one register (32 bits; revision in the low byte). */
export const PCI_CLASS_REVISION = 0x08;
/** Revision ID register (8 bits). */
export const PCI_REVISION_ID = 0x08;
/** Programming Interface byte of the Class Code (8 bits). */
export const PCI_CLASS_PROG = 0x09;
/** Base class and sub-class of the Class Code (16 bits; base class in the high byte). */
export const PCI_CLASS_DEVICE = 0x0a;
/** Cache Line Size register (8 bits, in dwords). */
export const PCI_CACHE_LINE_SIZE = 0x0c;
/** Latency Timer register (8 bits). */
export const PCI_LATENCY_TIMER = 0x0d;
/** Header Type register (8 bits; bit 7 marks a multi-function device). */
export const PCI_HEADER_TYPE = 0x0e;
/** HEADER_TYPE: the header layout field (bits 6:0), without the multi-function bit. */
export const PCI_HEADER_TYPE_MASK = 0x7f;
/** HEADER_TYPE layout 0: a general device (type 0 header). */
export const PCI_HEADER_TYPE_NORMAL = 0;
/** HEADER_TYPE layout 1: a PCI-to-PCI bridge (type 1 header). */
export const PCI_HEADER_TYPE_BRIDGE = 1;
/** HEADER_TYPE layout 2: a CardBus bridge. */
export const PCI_HEADER_TYPE_CARDBUS = 2;
/** BIST (built-in self test) register (8 bits). */
export const PCI_BIST = 0x0f;

/** Base Address Register 0 (32 bits); BARs 1 to 5 follow at 4-byte steps. */
export const PCI_BASE_ADDRESS_0 = 0x10;
/** Base Address Register 5 (32 bits), the last BAR of a type 0 header. */
export const PCI_BASE_ADDRESS_5 = 0x24;
/** BAR bit 0 set: the BAR maps I/O space. */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
/** BAR bit 0 clear: the BAR maps memory space. */
export const PCI_BASE_ADDRESS_SPACE_MEMORY = 0x00;
/** Memory BAR: the Type field (bits 2:1). */
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x06;
/** Memory BAR Type: 32-bit address. */
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x00;
/** Memory BAR Type: below 1 MiB (legacy; reserved in current PCI specifications). */
export const PCI_BASE_ADDRESS_MEM_TYPE_1M = 0x02;
/** Memory BAR Type: 64-bit address; the next BAR holds the upper 32 bits. */
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
/** Memory BAR: Prefetchable (reads have no side effects). */
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
/** ~0x0f as an unsigned 32-bit mask. */
export const PCI_BASE_ADDRESS_MEM_MASK = 0xfffffff0;
/** ~0x03 as an unsigned 32-bit mask. */
export const PCI_BASE_ADDRESS_IO_MASK = 0xfffffffc;

/** CardBus CIS Pointer register (32 bits). */
export const PCI_CARDBUS_CIS = 0x28;
/** Subsystem Vendor ID register (16 bits). */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** Subsystem ID register (16 bits). */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** Expansion ROM Base Address register (32 bits). */
export const PCI_ROM_ADDRESS = 0x30;
/** ROM BAR: Expansion ROM Enable (decode the ROM when memory space is enabled too). */
export const PCI_ROM_ADDRESS_ENABLE = 0x01;
/** ~0x7ff as an unsigned 32-bit mask. */
export const PCI_ROM_ADDRESS_MASK = 0xfffff800;
/** Capabilities Pointer register (8 bits): offset of the first capability. */
export const PCI_CAPABILITY_LIST = 0x34;
/** Interrupt Line register (8 bits): interrupt routing written by software. */
export const PCI_INTERRUPT_LINE = 0x3c;
/** Interrupt Pin register (8 bits): 0 for none, 1 to 4 for INTA# to INTD#. */
export const PCI_INTERRUPT_PIN = 0x3d;
/** Min_Gnt register (8 bits). */
export const PCI_MIN_GNT = 0x3e;
/** Max_Lat register (8 bits). */
export const PCI_MAX_LAT = 0x3f;

// Type 1 (bridge) fields the decoder names.
/** Type 1 header: Primary Bus Number register (8 bits). */
export const PCI_PRIMARY_BUS = 0x18;
/** Type 1 header: Secondary Bus Number register (8 bits). */
export const PCI_SECONDARY_BUS = 0x19;
/** Type 1 header: Subordinate Bus Number register (8 bits). */
export const PCI_SUBORDINATE_BUS = 0x1a;

// ---- Capability list
/** Offset of the Capability ID byte in a capability. */
export const PCI_CAP_LIST_ID = 0;
/** Offset of the Next Capability Pointer byte in a capability. */
export const PCI_CAP_LIST_NEXT = 1;
/** Offset of the capability-specific 16-bit register that follows the capability header. */
export const PCI_CAP_FLAGS = 2;
/** Size of a capability's ID, next pointer and 16-bit flags register (4 bytes). */
export const PCI_CAP_SIZEOF = 4;

/** Capability ID: PCI Power Management. */
export const PCI_CAP_ID_PM = 0x01;
/** Capability ID: Accelerated Graphics Port. */
export const PCI_CAP_ID_AGP = 0x02;
/** Capability ID: Vital Product Data. */
export const PCI_CAP_ID_VPD = 0x03;
/** Capability ID: Slot Identification. */
export const PCI_CAP_ID_SLOTID = 0x04;
/** Capability ID: Message Signaled Interrupts. */
export const PCI_CAP_ID_MSI = 0x05;
/** Capability ID: CompactPCI Hot Swap. */
export const PCI_CAP_ID_CHSWP = 0x06;
/** Capability ID: PCI-X. */
export const PCI_CAP_ID_PCIX = 0x07;
/** Capability ID: HyperTransport. */
export const PCI_CAP_ID_HT = 0x08;
/** Capability ID: Vendor Specific. */
export const PCI_CAP_ID_VNDR = 0x09;
/** Capability ID: Debug port. */
export const PCI_CAP_ID_DBG = 0x0a;
/** Capability ID: CompactPCI Central Resource Control. */
export const PCI_CAP_ID_CCRC = 0x0b;
/** Capability ID: PCI Standard Hot-Plug Controller. */
export const PCI_CAP_ID_SHPC = 0x0c;
/** Capability ID: Bridge Subsystem Vendor ID. */
export const PCI_CAP_ID_SSVID = 0x0d;
/** Capability ID: AGP 8x target PCI-to-PCI bridge. */
export const PCI_CAP_ID_AGP3 = 0x0e;
/** Capability ID: Secure Device. */
export const PCI_CAP_ID_SECDEV = 0x0f;
/** Capability ID: PCI Express. */
export const PCI_CAP_ID_EXP = 0x10;
/** Capability ID: MSI-X. */
export const PCI_CAP_ID_MSIX = 0x11;
/** Capability ID: SATA Data/Index Configuration. */
export const PCI_CAP_ID_SATA = 0x12;
/** Capability ID: Advanced Features (function level reset for conventional PCI). */
export const PCI_CAP_ID_AF = 0x13;
/** Capability ID: Enhanced Allocation. */
export const PCI_CAP_ID_EA = 0x14;
/** Highest capability ID named here. */
export const PCI_CAP_ID_MAX = PCI_CAP_ID_EA;

// ---- Power management
/** Offset of the Power Management Capabilities register (PMC, 16 bits) in the PM capability. */
export const PCI_PM_PMC = 2;
/** PMC: Version field: the revision of the PCI PM specification implemented. */
export const PCI_PM_CAP_VER_MASK = 0x0007;
/** PMC: PME Clock: the PCI clock is needed to generate PME#. */
export const PCI_PM_CAP_PME_CLOCK = 0x0008;
/** PMC: Device Specific Initialization needed after a transition to D0. */
export const PCI_PM_CAP_DSI = 0x0020;
/** PMC: Aux_Current field (bits 8:6): the 3.3Vaux current the function draws. */
export const PCI_PM_CAP_AUX_POWER = 0x01c0;
/** PMC: D1 power state supported. */
export const PCI_PM_CAP_D1 = 0x0200;
/** PMC: D2 power state supported. */
export const PCI_PM_CAP_D2 = 0x0400;
/** PMC: the D0 bit of PME_Support, which Linux tests as "PME# supported". */
export const PCI_PM_CAP_PME = 0x0800;
/** PMC: PME_Support field (bits 15:11): the states from which PME# can be asserted. */
export const PCI_PM_CAP_PME_MASK = 0xf800;
/** PMC: PME# can be asserted from D0. */
export const PCI_PM_CAP_PME_D0 = 0x0800;
/** PMC: PME# can be asserted from D1. */
export const PCI_PM_CAP_PME_D1 = 0x1000;
/** PMC: PME# can be asserted from D2. */
export const PCI_PM_CAP_PME_D2 = 0x2000;
/** PMC: PME# can be asserted from D3hot. */
export const PCI_PM_CAP_PME_D3hot = 0x4000;
/** PMC: PME# can be asserted from D3cold. */
export const PCI_PM_CAP_PME_D3cold = 0x8000;
/** Shift of the PME_Support field in PMC. */
export const PCI_PM_CAP_PME_SHIFT = 11;
/** Offset of the Power Management Control/Status register (PMCSR, 16 bits) in the PM capability. */
export const PCI_PM_CTRL = 4;
/** PMCSR: PowerState field (0 = D0 to 3 = D3hot). */
export const PCI_PM_CTRL_STATE_MASK = 0x0003;
/** PMCSR: No_Soft_Reset: going from D3hot to D0 keeps the function's configuration. */
export const PCI_PM_CTRL_NO_SOFT_RESET = 0x0008;
/** PMCSR: PME_En: the function may assert PME#. */
export const PCI_PM_CTRL_PME_ENABLE = 0x0100;
/** PMCSR: Data_Select field (bits 12:9). */
export const PCI_PM_CTRL_DATA_SEL_MASK = 0x1e00;
/** PMCSR: Data_Scale field (bits 14:13). */
export const PCI_PM_CTRL_DATA_SCALE_MASK = 0x6000;
/** PMCSR: PME_Status: the function asserted PME# (write 1 to clear). */
export const PCI_PM_CTRL_PME_STATUS = 0x8000;
/** Offset of the PMCSR PCI-to-PCI Bridge Support Extensions register (8 bits). */
export const PCI_PM_PPB_EXTENSIONS = 6;
/** Offset of the PM Data register (8 bits). */
export const PCI_PM_DATA_REGISTER = 7;
/** Size of the Power Management capability (8 bytes). */
export const PCI_PM_SIZEOF = 8;

// ---- AGP / VPD (sizes only: kept read-only when found in raw spaces)
/** Size of the AGP capability (12 bytes). */
export const PCI_AGP_SIZEOF = 12;
/** Offset of the VPD Address register (16 bits; bit 15 is the completion flag) in the VPD capability. */
export const PCI_VPD_ADDR = 2;
/** Offset of the VPD Data register (32 bits) in the VPD capability. */
export const PCI_VPD_DATA = 4;
/** Size of the VPD capability (8 bytes). */
export const PCI_CAP_VPD_SIZEOF = 8;

// ---- MSI
/** Offset of the Message Control register (16 bits) in the MSI capability. */
export const PCI_MSI_FLAGS = 0x02;
/** MSI Message Control: MSI Enable. */
export const PCI_MSI_FLAGS_ENABLE = 0x0001;
/** MSI Message Control: Multiple Message Capable field (bits 3:1): log2 of the vectors requested. */
export const PCI_MSI_FLAGS_QMASK = 0x000e;
/** MSI Message Control: Multiple Message Enable field (bits 6:4): log2 of the vectors allocated. */
export const PCI_MSI_FLAGS_QSIZE = 0x0070;
/** MSI Message Control: 64-bit Address Capable. */
export const PCI_MSI_FLAGS_64BIT = 0x0080;
/** MSI Message Control: Per-Vector Masking Capable. */
export const PCI_MSI_FLAGS_MASKBIT = 0x0100;
/** Offset of the Message Address register (32 bits) in the MSI capability. */
export const PCI_MSI_ADDRESS_LO = 0x04;
/** Offset of the Message Upper Address register (32 bits) in a 64-bit MSI capability. */
export const PCI_MSI_ADDRESS_HI = 0x08;
/** Offset of the Message Data register (16 bits) in a 32-bit MSI capability. */
export const PCI_MSI_DATA_32 = 0x08;
/** Offset of the Mask Bits register (32 bits) in a 32-bit MSI capability with per-vector masking. */
export const PCI_MSI_MASK_32 = 0x0c;
/** Offset of the Pending Bits register (32 bits) in a 32-bit MSI capability with per-vector masking. */
export const PCI_MSI_PENDING_32 = 0x10;
/** Offset of the Message Data register (16 bits) in a 64-bit MSI capability. */
export const PCI_MSI_DATA_64 = 0x0c;
/** Offset of the Mask Bits register (32 bits) in a 64-bit MSI capability with per-vector masking. */
export const PCI_MSI_MASK_64 = 0x10;
/** Offset of the Pending Bits register (32 bits) in a 64-bit MSI capability with per-vector masking. */
export const PCI_MSI_PENDING_64 = 0x14;

// ---- MSI-X
/** Offset of the Message Control register (16 bits) in the MSI-X capability. */
export const PCI_MSIX_FLAGS = 2;
/** MSI-X Message Control: Table Size field: the number of table entries minus one. */
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
/** MSI-X Message Control: Function Mask: all vectors are masked. */
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
/** MSI-X Message Control: MSI-X Enable. */
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
/** Offset of the Table Offset/Table BIR register (32 bits) in the MSI-X capability. */
export const PCI_MSIX_TABLE = 4;
/** Table BIR: which BAR holds the MSI-X table. */
export const PCI_MSIX_TABLE_BIR = 0x00000007;
/** Table Offset: the MSI-X table's offset in its BAR (8-byte aligned). */
export const PCI_MSIX_TABLE_OFFSET = 0xfffffff8;
/** Offset of the PBA Offset/PBA BIR register (32 bits) in the MSI-X capability. */
export const PCI_MSIX_PBA = 8;
/** PBA BIR: which BAR holds the Pending Bit Array. */
export const PCI_MSIX_PBA_BIR = 0x00000007;
/** PBA Offset: the Pending Bit Array's offset in its BAR (8-byte aligned). */
export const PCI_MSIX_PBA_OFFSET = 0xfffffff8;
/** Size of the MSI-X capability (12 bytes). */
export const PCI_CAP_MSIX_SIZEOF = 12;
/** Size of one MSI-X table entry (16 bytes). */
export const PCI_MSIX_ENTRY_SIZE = 16;
/** Offset of the Message Address field (low 32 bits) in an MSI-X table entry. */
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0x0;
/** Offset of the Message Upper Address field (32 bits) in an MSI-X table entry. */
export const PCI_MSIX_ENTRY_UPPER_ADDR = 0x4;
/** Offset of the Message Data field (32 bits) in an MSI-X table entry. */
export const PCI_MSIX_ENTRY_DATA = 0x8;
/** Offset of the Vector Control field (32 bits) in an MSI-X table entry. */
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 0xc;
/** Vector Control: Mask Bit: the vector may not send messages. */
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x00000001;

// ---- Advanced Features
/** Offset of the Length register (8 bits) in the Advanced Features capability. */
export const PCI_AF_LENGTH = 2;
/** Offset of the AF Capabilities register (8 bits) in the Advanced Features capability. */
export const PCI_AF_CAP = 3;
/** AF Capabilities: the Transactions Pending bit is supported. */
export const PCI_AF_CAP_TP = 0x01;
/** AF Capabilities: Function Level Reset is supported. */
export const PCI_AF_CAP_FLR = 0x02;
/** Offset of the AF Control register (8 bits) in the Advanced Features capability. */
export const PCI_AF_CTRL = 4;
/** AF Control: Initiate FLR. */
export const PCI_AF_CTRL_FLR = 0x01;
/** Offset of the AF Status register (8 bits) in the Advanced Features capability. */
export const PCI_AF_STATUS = 5;
/** AF Status: Transactions Pending. */
export const PCI_AF_STATUS_TP = 0x01;
/** Size of the Advanced Features capability (6 bytes). */
export const PCI_CAP_AF_SIZEOF = 6;

// ---- PCI-X (type 0)
/** Offset of the PCI-X Command register (16 bits) in the PCI-X capability. */
export const PCI_X_CMD = 2;
/** Offset of the PCI-X Status register (32 bits) in the PCI-X capability. */
export const PCI_X_STATUS = 4;
/** Offset of the ECC Control and Status register (32 bits) in a version 1 or 2 PCI-X capability. */
export const PCI_X_ECC_CSR = 8;
/** Size of a version 0 PCI-X capability (8 bytes). */
export const PCI_CAP_PCIX_SIZEOF_V0 = 8;
/** Size of a version 1 or 2 PCI-X capability, ECC registers included (24 bytes). */
export const PCI_CAP_PCIX_SIZEOF_V2 = 24;
/** Capability Version field (bits 13:12) of the PCI-X Command register; nonzero means the ECC registers follow. */
export function PCI_X_CMD_VERSION(cmd: number): number {
  return (cmd >> 12) & 3;
}

// ---- HyperTransport / SATA (lengths of caps found in raw spaces)
/** HyperTransport: mask of the 3-bit capability type in byte 3; zero means a slave/primary interface block. */
export const HT_3BIT_CAP_MASK = 0xe0;
/** Size of a HyperTransport slave/primary interface capability (28 bytes). */
export const HT_CAP_SIZEOF_LONG = 28;
/** Size of a HyperTransport host/secondary interface capability (24 bytes). */
export const HT_CAP_SIZEOF_SHORT = 24;
/** Offset of SATA Capability Register 1 in the SATA capability: where the index/data pair lives. */
export const PCI_SATA_REGS = 4;
/** SATA Capability Register 1: BAR Location field (bits 3:0). */
export const PCI_SATA_REGS_MASK = 0xf;
/** SATA BAR Location value: the index/data pair is in the capability itself. */
export const PCI_SATA_REGS_INLINE = 0xf;
/** Size of a SATA capability whose index/data pair is in a BAR (8 bytes). */
export const PCI_SATA_SIZEOF_SHORT = 8;
/** Size of a SATA capability with the index/data pair inline (16 bytes). */
export const PCI_SATA_SIZEOF_LONG = 16;

// ---- PCI Express capability
/** Offset of the PCI Express Capabilities register (16 bits) in the PCIe capability. */
export const PCI_EXP_FLAGS = 0x02;
/** PCIe Capabilities: Capability Version field. */
export const PCI_EXP_FLAGS_VERS = 0x000f;
/** PCIe Capabilities: Device/Port Type field (bits 7:4). */
export const PCI_EXP_FLAGS_TYPE = 0x00f0;
/** Device/Port Type: PCI Express Endpoint. */
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
/** Device/Port Type: Legacy PCI Express Endpoint. */
export const PCI_EXP_TYPE_LEG_END = 0x1;
/** Device/Port Type: Root Port of a Root Complex. */
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
/** Device/Port Type: Upstream Port of a Switch. */
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
/** Device/Port Type: Downstream Port of a Switch. */
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
/** Device/Port Type: PCI Express to PCI/PCI-X Bridge. */
export const PCI_EXP_TYPE_PCI_BRIDGE = 0x7;
/** Device/Port Type: PCI/PCI-X to PCI Express Bridge. */
export const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8;
/** Device/Port Type: Root Complex Integrated Endpoint. */
export const PCI_EXP_TYPE_RC_END = 0x9;
/** Device/Port Type: Root Complex Event Collector. */
export const PCI_EXP_TYPE_RC_EC = 0xa;
/** PCIe Capabilities: Slot Implemented: the port's link goes to a slot. */
export const PCI_EXP_FLAGS_SLOT = 0x0100;
/** PCIe Capabilities: Interrupt Message Number field (bits 13:9). */
export const PCI_EXP_FLAGS_IRQ = 0x3e00;
/** Offset of the Device Capabilities register (32 bits) in the PCIe capability. */
export const PCI_EXP_DEVCAP = 0x04;
/** DEVCAP: Max_Payload_Size Supported field. */
export const PCI_EXP_DEVCAP_PAYLOAD = 0x00000007;
/** DEVCAP: Phantom Functions Supported field. */
export const PCI_EXP_DEVCAP_PHANTOM = 0x00000018;
/** DEVCAP: Extended Tag Field Supported (8-bit tags). */
export const PCI_EXP_DEVCAP_EXT_TAG = 0x00000020;
/** DEVCAP: Endpoint L0s Acceptable Latency field. */
export const PCI_EXP_DEVCAP_L0S = 0x000001c0;
/** DEVCAP: Endpoint L1 Acceptable Latency field. */
export const PCI_EXP_DEVCAP_L1 = 0x00000e00;
/** DEVCAP: Attention Button Present (PCIe 1.0; reserved since). */
export const PCI_EXP_DEVCAP_ATN_BUT = 0x00001000;
/** DEVCAP: Attention Indicator Present (PCIe 1.0; reserved since). */
export const PCI_EXP_DEVCAP_ATN_IND = 0x00002000;
/** DEVCAP: Power Indicator Present (PCIe 1.0; reserved since). */
export const PCI_EXP_DEVCAP_PWR_IND = 0x00004000;
/** DEVCAP: Role-Based Error Reporting. */
export const PCI_EXP_DEVCAP_RBER = 0x00008000;
/** DEVCAP: Captured Slot Power Limit Value field. */
export const PCI_EXP_DEVCAP_PWR_VAL = 0x03fc0000;
/** DEVCAP: Captured Slot Power Limit Scale field. */
export const PCI_EXP_DEVCAP_PWR_SCL = 0x0c000000;
/** DEVCAP: Function Level Reset Capability. */
export const PCI_EXP_DEVCAP_FLR = 0x10000000;
/** Offset of the Device Control register (16 bits) in the PCIe capability. */
export const PCI_EXP_DEVCTL = 0x08;
/** DEVCTL: Correctable Error Reporting Enable. */
export const PCI_EXP_DEVCTL_CERE = 0x0001;
/** DEVCTL: Non-Fatal Error Reporting Enable. */
export const PCI_EXP_DEVCTL_NFERE = 0x0002;
/** DEVCTL: Fatal Error Reporting Enable. */
export const PCI_EXP_DEVCTL_FERE = 0x0004;
/** DEVCTL: Unsupported Request Reporting Enable. */
export const PCI_EXP_DEVCTL_URRE = 0x0008;
/** DEVCTL: Enable Relaxed Ordering. */
export const PCI_EXP_DEVCTL_RELAX_EN = 0x0010;
/** DEVCTL: Max_Payload_Size field (bits 7:5). */
export const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
/** DEVCTL: Extended Tag Field Enable. */
export const PCI_EXP_DEVCTL_EXT_TAG = 0x0100;
/** DEVCTL: Phantom Functions Enable. */
export const PCI_EXP_DEVCTL_PHANTOM = 0x0200;
/** DEVCTL: Aux Power PM Enable. */
export const PCI_EXP_DEVCTL_AUX_PME = 0x0400;
/** DEVCTL: Enable No Snoop. */
export const PCI_EXP_DEVCTL_NOSNOOP_EN = 0x0800;
/** DEVCTL: Max_Read_Request_Size field (bits 14:12). */
export const PCI_EXP_DEVCTL_READRQ = 0x7000;
/** DEVCTL: Max_Read_Request_Size value for 512 bytes. */
export const PCI_EXP_DEVCTL_READRQ_512B = 0x2000;
/** DEVCTL bit 15: Initiate Function Level Reset (Bridge Configuration Retry Enable on PCIe-to-PCI bridges). */
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
/** Offset of the Device Status register (16 bits) in the PCIe capability. */
export const PCI_EXP_DEVSTA = 0x0a;
/** DEVSTA: Correctable Error Detected. */
export const PCI_EXP_DEVSTA_CED = 0x0001;
/** DEVSTA: Non-Fatal Error Detected. */
export const PCI_EXP_DEVSTA_NFED = 0x0002;
/** DEVSTA: Fatal Error Detected. */
export const PCI_EXP_DEVSTA_FED = 0x0004;
/** DEVSTA: Unsupported Request Detected. */
export const PCI_EXP_DEVSTA_URD = 0x0008;
/** DEVSTA: AUX Power Detected. */
export const PCI_EXP_DEVSTA_AUXPD = 0x0010;
/** DEVSTA: Transactions Pending. */
export const PCI_EXP_DEVSTA_TRPND = 0x0020;
/** Length of a version 1 PCIe capability without link registers (ends after Device Status). */
export const PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V1 = 12;
/** Offset of the Link Capabilities register (32 bits) in the PCIe capability. */
export const PCI_EXP_LNKCAP = 0x0c;
/** LNKCAP: Max Link Speed field. */
export const PCI_EXP_LNKCAP_SLS = 0x0000000f;
/** LNKCAP: Maximum Link Width field (bits 9:4). */
export const PCI_EXP_LNKCAP_MLW = 0x000003f0;
/** LNKCAP: ASPM Support field. */
export const PCI_EXP_LNKCAP_ASPMS = 0x00000c00;
/** LNKCAP: L0s Exit Latency field. */
export const PCI_EXP_LNKCAP_L0SEL = 0x00007000;
/** LNKCAP: L1 Exit Latency field. */
export const PCI_EXP_LNKCAP_L1EL = 0x00038000;
/** LNKCAP: Clock Power Management. */
export const PCI_EXP_LNKCAP_CLKPM = 0x00040000;
/** LNKCAP: Surprise Down Error Reporting Capable. */
export const PCI_EXP_LNKCAP_SDERC = 0x00080000;
/** LNKCAP: Data Link Layer Link Active Reporting Capable. */
export const PCI_EXP_LNKCAP_DLLLARC = 0x00100000;
/** LNKCAP: Link Bandwidth Notification Capability. */
export const PCI_EXP_LNKCAP_LBNC = 0x00200000;
/** LNKCAP: Port Number field (bits 31:24). */
export const PCI_EXP_LNKCAP_PN = 0xff000000;
/** Offset of the Link Control register (16 bits) in the PCIe capability. */
export const PCI_EXP_LNKCTL = 0x10;
/** LNKCTL: ASPM Control field. */
export const PCI_EXP_LNKCTL_ASPMC = 0x0003;
/** LNKCTL: Read Completion Boundary is 128 bytes (64 when clear). */
export const PCI_EXP_LNKCTL_RCB = 0x0008;
/** LNKCTL: Link Disable. */
export const PCI_EXP_LNKCTL_LD = 0x0010;
/** LNKCTL: Retrain Link. */
export const PCI_EXP_LNKCTL_RL = 0x0020;
/** LNKCTL: Common Clock Configuration. */
export const PCI_EXP_LNKCTL_CCC = 0x0040;
/** LNKCTL: Extended Synch. */
export const PCI_EXP_LNKCTL_ES = 0x0080;
/** LNKCTL: Enable Clock Power Management (CLKREQ#). */
export const PCI_EXP_LNKCTL_CLKREQ_EN = 0x0100;
/** LNKCTL: Hardware Autonomous Width Disable. */
export const PCI_EXP_LNKCTL_HAWD = 0x0200;
/** LNKCTL: Link Bandwidth Management Interrupt Enable. */
export const PCI_EXP_LNKCTL_LBMIE = 0x0400;
/** LNKCTL: Link Autonomous Bandwidth Interrupt Enable. */
export const PCI_EXP_LNKCTL_LABIE = 0x0800;
/** Offset of the Link Status register (16 bits) in the PCIe capability. */
export const PCI_EXP_LNKSTA = 0x12;
/** LNKSTA: Current Link Speed field. */
export const PCI_EXP_LNKSTA_CLS = 0x000f;
/** LNKSTA: Negotiated Link Width field (bits 9:4). */
export const PCI_EXP_LNKSTA_NLW = 0x03f0;
/** Shift of the Negotiated Link Width field in LNKSTA. */
export const PCI_EXP_LNKSTA_NLW_SHIFT = 4;
/** LNKSTA: Link Training in progress. */
export const PCI_EXP_LNKSTA_LT = 0x0800;
/** LNKSTA: Slot Clock Configuration: the link uses the slot's reference clock. */
export const PCI_EXP_LNKSTA_SLC = 0x1000;
/** LNKSTA: Data Link Layer Link Active. */
export const PCI_EXP_LNKSTA_DLLLA = 0x2000;
/** LNKSTA: Link Bandwidth Management Status. */
export const PCI_EXP_LNKSTA_LBMS = 0x4000;
/** LNKSTA: Link Autonomous Bandwidth Status. */
export const PCI_EXP_LNKSTA_LABS = 0x8000;
/** Length of a version 1 PCIe capability with link registers (ends after Link Status). */
export const PCI_CAP_EXP_ENDPOINT_SIZEOF_V1 = 20;
/** Offset of the Device Capabilities 2 register (32 bits) in the PCIe capability. */
export const PCI_EXP_DEVCAP2 = 0x24;
/** DEVCAP2: Completion Timeout Disable Supported. */
export const PCI_EXP_DEVCAP2_COMP_TMOUT_DIS = 0x00000010;
/** DEVCAP2: ARI Forwarding Supported. */
export const PCI_EXP_DEVCAP2_ARI = 0x00000020;
/** DEVCAP2: AtomicOp Routing Supported. */
export const PCI_EXP_DEVCAP2_ATOMIC_ROUTE = 0x00000040;
/** DEVCAP2: 32-bit AtomicOp Completer Supported. */
export const PCI_EXP_DEVCAP2_ATOMIC_COMP32 = 0x00000080;
/** DEVCAP2: 64-bit AtomicOp Completer Supported. */
export const PCI_EXP_DEVCAP2_ATOMIC_COMP64 = 0x00000100;
/** DEVCAP2: 128-bit CAS Completer Supported. */
export const PCI_EXP_DEVCAP2_ATOMIC_COMP128 = 0x00000200;
/** DEVCAP2: Latency Tolerance Reporting (LTR) Mechanism Supported. */
export const PCI_EXP_DEVCAP2_LTR = 0x00000800;
/** DEVCAP2: OBFF Supported field (bits 19:18). */
export const PCI_EXP_DEVCAP2_OBFF_MASK = 0x000c0000;
/** DEVCAP2: End-End TLP Prefix Supported. */
export const PCI_EXP_DEVCAP2_EE_PREFIX = 0x00200000;
/** Offset of the Device Control 2 register (16 bits) in the PCIe capability. */
export const PCI_EXP_DEVCTL2 = 0x28;
/** DEVCTL2: Completion Timeout Value field. */
export const PCI_EXP_DEVCTL2_COMP_TIMEOUT = 0x000f;
/** DEVCTL2: Completion Timeout Disable. */
export const PCI_EXP_DEVCTL2_COMP_TMOUT_DIS = 0x0010;
/** DEVCTL2: ARI Forwarding Enable. */
export const PCI_EXP_DEVCTL2_ARI = 0x0020;
/** DEVCTL2: AtomicOp Requester Enable. */
export const PCI_EXP_DEVCTL2_ATOMIC_REQ = 0x0040;
/** DEVCTL2: AtomicOp Egress Blocking. */
export const PCI_EXP_DEVCTL2_ATOMIC_EGRESS_BLOCK = 0x0080;
/** DEVCTL2: IDO Request Enable. */
export const PCI_EXP_DEVCTL2_IDO_REQ_EN = 0x0100;
/** DEVCTL2: IDO Completion Enable. */
export const PCI_EXP_DEVCTL2_IDO_CMP_EN = 0x0200;
/** DEVCTL2: LTR Mechanism Enable. */
export const PCI_EXP_DEVCTL2_LTR_EN = 0x0400;
/** DEVCTL2: OBFF Enable field (bits 14:13); all ones selects WAKE# signaling. */
export const PCI_EXP_DEVCTL2_OBFF_WAKE_EN = 0x6000;
/** Offset of the Device Status 2 register (16 bits) in the PCIe capability. */
export const PCI_EXP_DEVSTA2 = 0x2a;
/** Length of a version 2 PCIe capability without link registers (ends after Device Status 2). */
export const PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2 = 0x2c;
/** Offset of the Link Capabilities 2 register (32 bits) in the PCIe capability. */
export const PCI_EXP_LNKCAP2 = 0x2c;
/** LNKCAP2: Supported Link Speeds Vector: 2.5 GT/s. */
export const PCI_EXP_LNKCAP2_SLS_2_5GB = 0x00000002;
/** LNKCAP2: Crosslink Supported. */
export const PCI_EXP_LNKCAP2_CROSSLINK = 0x00000100;
/** Offset of the Link Control 2 register (16 bits) in the PCIe capability. */
export const PCI_EXP_LNKCTL2 = 0x30;
/** LNKCTL2: Target Link Speed field. */
export const PCI_EXP_LNKCTL2_TLS = 0x000f;
/** LNKCTL2: Enter Compliance. */
export const PCI_EXP_LNKCTL2_ENTER_COMP = 0x0010;
/** LNKCTL2: Hardware Autonomous Speed Disable. */
export const PCI_EXP_LNKCTL2_HASD = 0x0020;
/** LNKCTL2: Transmit Margin field (bits 9:7). */
export const PCI_EXP_LNKCTL2_TX_MARGIN = 0x0380;
/** Offset of the Link Status 2 register (16 bits) in the PCIe capability. */
export const PCI_EXP_LNKSTA2 = 0x32;
/** Length Linux gives a version 2 PCIe capability with link registers (0x32: Link Status 2 not counted). */
export const PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 = 0x32;

// ---- Extended capabilities
/** Capability ID (bits 15:0) of an extended capability header. */
export function PCI_EXT_CAP_ID(header: number): number {
  return header & 0x0000ffff;
}
/** Capability Version (bits 19:16) of an extended capability header. */
export function PCI_EXT_CAP_VER(header: number): number {
  return (header >>> 16) & 0xf;
}
/** Next Capability Offset (bits 31:20, dword aligned) of an extended capability header; 0 ends the list. */
export function PCI_EXT_CAP_NEXT(header: number): number {
  return (header >>> 20) & 0xffc;
}

/** Extended capability ID: Advanced Error Reporting. */
export const PCI_EXT_CAP_ID_ERR = 0x01;
/** Extended capability ID: Virtual Channel (when no MFVC capability is present). */
export const PCI_EXT_CAP_ID_VC = 0x02;
/** Extended capability ID: Device Serial Number. */
export const PCI_EXT_CAP_ID_DSN = 0x03;
/** Extended capability ID: Power Budgeting. */
export const PCI_EXT_CAP_ID_PWR = 0x04;
/** Extended capability ID: Root Complex Link Declaration. */
export const PCI_EXT_CAP_ID_RCLD = 0x05;
/** Extended capability ID: Root Complex Internal Link Control. */
export const PCI_EXT_CAP_ID_RCILC = 0x06;
/** Extended capability ID: Root Complex Event Collector Endpoint Association. */
export const PCI_EXT_CAP_ID_RCEC = 0x07;
/** Extended capability ID: Multi-Function Virtual Channel. */
export const PCI_EXT_CAP_ID_MFVC = 0x08;
/** Extended capability ID: Virtual Channel, in a function that also has an MFVC capability. */
export const PCI_EXT_CAP_ID_VC9 = 0x09;
/** Extended capability ID: RCRB Header. */
export const PCI_EXT_CAP_ID_RCRB = 0x0a;
/** Extended capability ID: Vendor-Specific Extended Capability. */
export const PCI_EXT_CAP_ID_VNDR = 0x0b;
/** Extended capability ID: Configuration Access Correlation (obsolete). */
export const PCI_EXT_CAP_ID_CAC = 0x0c;
/** Extended capability ID: Access Control Services. */
export const PCI_EXT_CAP_ID_ACS = 0x0d;
/** Extended capability ID: Alternative Routing-ID Interpretation. */
export const PCI_EXT_CAP_ID_ARI = 0x0e;
/** Extended capability ID: Address Translation Services. */
export const PCI_EXT_CAP_ID_ATS = 0x0f;
/** Extended capability ID: Single Root I/O Virtualization. */
export const PCI_EXT_CAP_ID_SRIOV = 0x10;
/** Extended capability ID: Multi-Root I/O Virtualization. */
export const PCI_EXT_CAP_ID_MRIOV = 0x11;
/** Extended capability ID: Multicast. */
export const PCI_EXT_CAP_ID_MCAST = 0x12;
/** Extended capability ID: Page Request Interface. */
export const PCI_EXT_CAP_ID_PRI = 0x13;
/** Extended capability ID 0x14: reserved for AMD. */
export const PCI_EXT_CAP_ID_AMD_XXX = 0x14;
/** Extended capability ID: Resizable BAR. */
export const PCI_EXT_CAP_ID_REBAR = 0x15;
/** Extended capability ID: Dynamic Power Allocation. */
export const PCI_EXT_CAP_ID_DPA = 0x16;
/** Extended capability ID: TPH Requester. */
export const PCI_EXT_CAP_ID_TPH = 0x17;
/** Extended capability ID: Latency Tolerance Reporting. */
export const PCI_EXT_CAP_ID_LTR = 0x18;
/** Extended capability ID: Secondary PCI Express. */
export const PCI_EXT_CAP_ID_SECPCI = 0x19;
/** Extended capability ID: Protocol Multiplexing. */
export const PCI_EXT_CAP_ID_PMUX = 0x1a;
/** Extended capability ID: Process Address Space ID. */
export const PCI_EXT_CAP_ID_PASID = 0x1b;
/** Extended capability ID: Downstream Port Containment. */
export const PCI_EXT_CAP_ID_DPC = 0x1d;
/** Extended capability ID: L1 PM Substates. */
export const PCI_EXT_CAP_ID_L1SS = 0x1e;
/** Extended capability ID: Precision Time Measurement. */
export const PCI_EXT_CAP_ID_PTM = 0x1f;
/** Extended capability ID: Designated Vendor-Specific Extended Capability. */
export const PCI_EXT_CAP_ID_DVSEC = 0x23;
/** Extended capability ID: Data Link Feature. */
export const PCI_EXT_CAP_ID_DLF = 0x25;
/** Extended capability ID: Physical Layer 16.0 GT/s. */
export const PCI_EXT_CAP_ID_PL_16GT = 0x26;
/** Extended capability ID: Data Object Exchange. */
export const PCI_EXT_CAP_ID_DOE = 0x2e;
/** Highest extended capability ID named here. */
export const PCI_EXT_CAP_ID_MAX = PCI_EXT_CAP_ID_DOE;

/** Size of the Device Serial Number capability (12 bytes). */
export const PCI_EXT_CAP_DSN_SIZEOF = 12;
/** Size of an endpoint's Multicast capability (40 bytes). */
export const PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF = 40;
/** Size of the Power Budgeting capability (16 bytes). */
export const PCI_EXT_CAP_PWR_SIZEOF = 0x10;
/** Size of the ARI capability (8 bytes). */
export const PCI_EXT_CAP_ARI_SIZEOF = 8;
/** Size of the ATS capability (8 bytes). */
export const PCI_EXT_CAP_ATS_SIZEOF = 8;
/** Size of the Page Request Interface capability (16 bytes). */
export const PCI_EXT_CAP_PRI_SIZEOF = 16;
/** Size of the SR-IOV capability (64 bytes). */
export const PCI_EXT_CAP_SRIOV_SIZEOF = 0x40;
/** Size of the LTR capability (8 bytes). */
export const PCI_EXT_CAP_LTR_SIZEOF = 8;
/** Offset of the Data register (32 bits) in the Power Budgeting capability. */
export const PCI_PWR_DATA = 0x08;

// ---- Advanced Error Reporting
/** Offset of the Uncorrectable Error Status register (32 bits) in the AER capability. */
export const PCI_ERR_UNCOR_STATUS = 0x04;
/** Uncorrectable error bit 0: Undefined (Training Error in PCIe 1.0a). */
export const PCI_ERR_UNC_UND = 0x00000001;
/** Uncorrectable error: Data Link Protocol Error. */
export const PCI_ERR_UNC_DLP = 0x00000010;
/** Uncorrectable error: Surprise Down Error. */
export const PCI_ERR_UNC_SURPDN = 0x00000020;
/** Uncorrectable error: Poisoned TLP Received. */
export const PCI_ERR_UNC_POISON_TLP = 0x00001000;
/** Uncorrectable error: Flow Control Protocol Error. */
export const PCI_ERR_UNC_FCP = 0x00002000;
/** Uncorrectable error: Completion Timeout. */
export const PCI_ERR_UNC_COMP_TIME = 0x00004000;
/** Uncorrectable error: Completer Abort. */
export const PCI_ERR_UNC_COMP_ABORT = 0x00008000;
/** Uncorrectable error: Unexpected Completion. */
export const PCI_ERR_UNC_UNX_COMP = 0x00010000;
/** Uncorrectable error: Receiver Overflow. */
export const PCI_ERR_UNC_RX_OVER = 0x00020000;
/** Uncorrectable error: Malformed TLP. */
export const PCI_ERR_UNC_MALF_TLP = 0x00040000;
/** Uncorrectable error: ECRC Error. */
export const PCI_ERR_UNC_ECRC = 0x00080000;
/** Uncorrectable error: Unsupported Request Error. */
export const PCI_ERR_UNC_UNSUP = 0x00100000;
/** Uncorrectable error: ACS Violation. */
export const PCI_ERR_UNC_ACSV = 0x00200000;
/** Uncorrectable error: Uncorrectable Internal Error. */
export const PCI_ERR_UNC_INTN = 0x00400000;
/** Uncorrectable error: MC Blocked TLP. */
export const PCI_ERR_UNC_MCBTLP = 0x00800000;
/** Uncorrectable error: AtomicOp Egress Blocked. */
export const PCI_ERR_UNC_ATOMEG = 0x01000000;
/** Uncorrectable error: TLP Prefix Blocked Error. */
export const PCI_ERR_UNC_TLPPRE = 0x02000000;
/** Offset of the Uncorrectable Error Mask register (32 bits) in the AER capability. */
export const PCI_ERR_UNCOR_MASK = 0x08;
/** Offset of the Uncorrectable Error Severity register (32 bits) in the AER capability. */
export const PCI_ERR_UNCOR_SEVER = 0x0c;
/** Offset of the Correctable Error Status register (32 bits) in the AER capability. */
export const PCI_ERR_COR_STATUS = 0x10;
/** Correctable error: Receiver Error. */
export const PCI_ERR_COR_RCVR = 0x00000001;
/** Correctable error: Bad TLP. */
export const PCI_ERR_COR_BAD_TLP = 0x00000040;
/** Correctable error: Bad DLLP. */
export const PCI_ERR_COR_BAD_DLLP = 0x00000080;
/** Correctable error: REPLAY_NUM Rollover. */
export const PCI_ERR_COR_REP_ROLL = 0x00000100;
/** Correctable error: Replay Timer Timeout. */
export const PCI_ERR_COR_REP_TIMER = 0x00001000;
/** Correctable error: Advisory Non-Fatal Error. */
export const PCI_ERR_COR_ADV_NFAT = 0x00002000;
/** Correctable error: Corrected Internal Error. */
export const PCI_ERR_COR_INTERNAL = 0x00004000;
/** Correctable error: Header Log Overflow. */
export const PCI_ERR_COR_LOG_OVER = 0x00008000;
/** Offset of the Correctable Error Mask register (32 bits) in the AER capability. */
export const PCI_ERR_COR_MASK = 0x14;
/** Offset of the Advanced Error Capabilities and Control register (32 bits) in the AER capability. */
export const PCI_ERR_CAP = 0x18;
/** AER capabilities: ECRC Generation Capable. */
export const PCI_ERR_CAP_ECRC_GENC = 0x00000020;
/** AER control: ECRC Generation Enable. */
export const PCI_ERR_CAP_ECRC_GENE = 0x00000040;
/** AER capabilities: ECRC Check Capable. */
export const PCI_ERR_CAP_ECRC_CHKC = 0x00000080;
/** AER control: ECRC Check Enable. */
export const PCI_ERR_CAP_ECRC_CHKE = 0x00000100;
/** First Error Pointer (bits 4:0) of the AER capabilities and control register: the bit number of the first uncorrectable error logged. */
export function PCI_ERR_CAP_FEP(x: number): number {
  return x & 0x1f;
}
/** Offset of the Header Log register (16 bytes: the header of the TLP in error) in the AER capability. */
export const PCI_ERR_HEADER_LOG = 0x1c;
/** Offset of the Root Error Command register (32 bits; Root Ports and Event Collectors only) in the AER capability. */
export const PCI_ERR_ROOT_COMMAND = 0x2c;

// ---- Virtual channel (length of VC/MFVC caps found in raw spaces)
/** Offset of Port VC Capability Register 1 (32 bits) in the VC capability. */
export const PCI_VC_PORT_CAP1 = 0x04;
/** Port VC Capability 1: Extended VC Count field: the VCs beyond VC0. */
export const PCI_VC_CAP1_EVCC = 0x00000007;
/** Offset of Port VC Capability Register 2 (32 bits) in the VC capability. */
export const PCI_VC_PORT_CAP2 = 0x08;
/** Port VC Capability 2: VC arbitration by WRR with 32 phases supported. */
export const PCI_VC_CAP2_32_PHASE = 0x00000002;
/** Port VC Capability 2: VC arbitration by WRR with 64 phases supported. */
export const PCI_VC_CAP2_64_PHASE = 0x00000004;
/** Port VC Capability 2: VC arbitration by WRR with 128 phases supported. */
export const PCI_VC_CAP2_128_PHASE = 0x00000008;
/** Size of the VC capability before its per-VC resource registers (16 bytes). */
export const PCI_CAP_VC_BASE_SIZEOF = 0x10;
/** Size of one VC's resource capability, control and status registers (12 bytes). */
export const PCI_CAP_VC_PER_VC_SIZEOF = 0x0c;

// ---- Other extended capabilities with a computed length
/** Offset of the Vendor-Specific Header register (32 bits) in a vendor-specific extended capability. */
export const PCI_VSEC_HDR = 4;
/** Shift of the VSEC Length field (bits 31:20) in the Vendor-Specific Header. */
export const PCI_VSEC_HDR_LEN_SHIFT = 20;
/** Offset of the ACS Capability register (16 bits) in the ACS capability. */
export const PCI_ACS_CAP = 0x04;
/** ACS Capability: Egress Control supported (an Egress Control Vector follows). */
export const PCI_ACS_EC = 0x0020;
/** Offset of the Egress Control Vector Size byte (the ACS Capability register's high byte). */
export const PCI_ACS_EGRESS_BITS = 0x05;
/** Offset of the first Resizable BAR Control register (32 bits) in the Resizable BAR capability. */
export const PCI_REBAR_CTRL = 8;
/** Resizable BAR Control: Number of Resizable BARs field (bits 7:5). */
export const PCI_REBAR_CTRL_NBAR_MASK = 0x000000e0;
/** Shift of the Number of Resizable BARs field. */
export const PCI_REBAR_CTRL_NBAR_SHIFT = 5;
/** Offset of the DPA Capability register (32 bits) in the DPA capability. */
export const PCI_DPA_CAP = 4;
/** DPA Capability: Substate_Max field: the number of substates minus one. */
export const PCI_DPA_CAP_SUBSTATE_MASK = 0x1f;
/** Size of the DPA capability before its Power Allocation Array (16 bytes). */
export const PCI_DPA_BASE_SIZEOF = 16;
/** Offset of the TPH Requester Capability register (32 bits) in the TPH capability. */
export const PCI_TPH_CAP = 4;
/** TPH Requester Capability: ST Table Location field (bits 10:9). */
export const PCI_TPH_CAP_LOC_MASK = 0x600;
/** ST Table Location value: the Steering Tag table is in the TPH capability. */
export const PCI_TPH_LOC_CAP = 0x200;
/** TPH Requester Capability: ST Table Size field (bits 26:16): entries minus one. */
export const PCI_TPH_CAP_ST_MASK = 0x07ff0000;
/** Shift of the ST Table Size field. */
export const PCI_TPH_CAP_ST_SHIFT = 16;
/** Size of the TPH capability before its Steering Tag table (12 bytes). */
export const PCI_TPH_BASE_SIZEOF = 0xc;
/** Offset of the DVSEC Header 1 register (32 bits: vendor ID, revision, length) in a DVSEC capability. */
export const PCI_DVSEC_HEADER1 = 0x4;
/** DVSEC Length field (bits 31:20) of DVSEC Header 1: the capability's size in bytes. */
export function PCI_DVSEC_HEADER1_LEN(x: number): number {
  return (x >>> 20) & 0xfff;
}
