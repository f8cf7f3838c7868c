// NVMe controller registers (NVMe 1.4 base specification, 3.1) and the
// shape of BAR0 as this model lays it out.
//
// BAR0 (64-bit memory, 16 KiB):
//   0x0000-0x0fff  controller registers (trapped: REGION_READ/WRITE to the model)
//   0x1000-0x1fff  doorbells, CAP.DSTRD = 0 (4-byte stride): SQy tail at
//                  0x1000 + 8y, CQy head at 0x1000 + 8y + 4. Shared memory:
//                  the client mmaps this page and the model polls it.
//   0x2000-0x2fff  MSI-X table (up to 256 vectors; the framework's)
//   0x3000-0x3fff  MSI-X PBA (the framework's)

export const BAR0_SIZE = 0x4000;
export const DOORBELL_OFFSET = 0x1000;
export const DOORBELL_PAGE_SIZE = 0x1000;
export const MSIX_TABLE_OFFSET = 0x2000;
export const MSIX_PBA_OFFSET = 0x3000;

// Register offsets.
export const REG_CAP = 0x00; // 64-bit, RO
export const REG_VS = 0x08;
export const REG_INTMS = 0x0c;
export const REG_INTMC = 0x10;
export const REG_CC = 0x14;
export const REG_CSTS = 0x1c;
export const REG_NSSR = 0x20;
export const REG_AQA = 0x24;
export const REG_ASQ = 0x28; // 64-bit
export const REG_ACQ = 0x30; // 64-bit
export const REG_CMBLOC = 0x38;
export const REG_CMBSZ = 0x3c;

// CAP fields (as bit positions in the 64-bit value).
export const CAP_MQES_SHIFT = 0; // 15:0, 0's based
export const CAP_CQR = 16; // contiguous queues required
export const CAP_AMS_SHIFT = 17; // 18:17
export const CAP_TO_SHIFT = 24; // 31:24, 500 ms units
export const CAP_DSTRD_SHIFT = 32; // 35:32
export const CAP_NSSRS = 36;
export const CAP_CSS_SHIFT = 37; // 44:37; bit 37 = NVM command set
export const CAP_BPS = 45;
export const CAP_MPSMIN_SHIFT = 48; // 51:48
export const CAP_MPSMAX_SHIFT = 52; // 55:52

// CC fields.
export const CC_EN = 1 << 0;
export const CC_CSS_SHIFT = 4; // 6:4
export const CC_MPS_SHIFT = 7; // 10:7
export const CC_AMS_SHIFT = 11; // 13:11
export const CC_SHN_SHIFT = 14; // 15:14: 00 none, 01 normal, 10 abrupt
export const CC_IOSQES_SHIFT = 16; // 19:16
export const CC_IOCQES_SHIFT = 20; // 23:20

export function ccCss(cc: number): number {
  return (cc >>> CC_CSS_SHIFT) & 7;
}
export function ccMps(cc: number): number {
  return (cc >>> CC_MPS_SHIFT) & 0xf;
}
export function ccAms(cc: number): number {
  return (cc >>> CC_AMS_SHIFT) & 7;
}
export function ccShn(cc: number): number {
  return (cc >>> CC_SHN_SHIFT) & 3;
}
export function ccIosqes(cc: number): number {
  return (cc >>> CC_IOSQES_SHIFT) & 0xf;
}
export function ccIocqes(cc: number): number {
  return (cc >>> CC_IOCQES_SHIFT) & 0xf;
}

// CSTS fields.
export const CSTS_RDY = 1 << 0;
export const CSTS_CFS = 1 << 1;
export const CSTS_SHST_SHIFT = 2; // 3:2
export const CSTS_SHST_MASK = 3 << 2;
export const SHST_NORMAL = 0;
export const SHST_OCCURRING = 1;
export const SHST_COMPLETE = 2;
export const CSTS_NSSRO = 1 << 4;
export const CSTS_PP = 1 << 5;

// AQA fields (0's based sizes).
export const AQA_ASQS_MASK = 0xfff; // 11:0
export const AQA_ACQS_SHIFT = 16; // 27:16

/** NVMe 1.4.0 in VS. */
export const NVME_VERSION_1_4 = 0x00010400;

/** Submission queue entry: 64 bytes (IOSQES = 6); completion entry: 16 bytes (IOCQES = 4). */
export const SQE_SIZE = 64;
export const CQE_SIZE = 16;
export const SQES_LOG2 = 6;
export const CQES_LOG2 = 4;

/** Offset of the SQ tail doorbell of queue `qid` in BAR0 (DSTRD 0). */
export function sqTailDoorbell(qid: number): number {
  return DOORBELL_OFFSET + 8 * qid;
}
/** Offset of the CQ head doorbell of queue `qid` in BAR0 (DSTRD 0). */
export function cqHeadDoorbell(qid: number): number {
  return DOORBELL_OFFSET + 8 * qid + 4;
}

// Admin command opcodes.
export const ADMIN_DELETE_SQ = 0x00;
export const ADMIN_CREATE_SQ = 0x01;
export const ADMIN_GET_LOG_PAGE = 0x02;
export const ADMIN_DELETE_CQ = 0x04;
export const ADMIN_CREATE_CQ = 0x05;
export const ADMIN_IDENTIFY = 0x06;
export const ADMIN_ABORT = 0x08;
export const ADMIN_SET_FEATURES = 0x09;
export const ADMIN_GET_FEATURES = 0x0a;
export const ADMIN_ASYNC_EVENT_REQUEST = 0x0c;
export const ADMIN_KEEP_ALIVE = 0x18;

// NVM command set opcodes.
export const NVM_FLUSH = 0x00;
export const NVM_WRITE = 0x01;
export const NVM_READ = 0x02;
export const NVM_COMPARE = 0x05;
export const NVM_WRITE_ZEROES = 0x08;
export const NVM_DSM = 0x09;

// Identify CNS values.
export const CNS_NAMESPACE = 0x00;
export const CNS_CONTROLLER = 0x01;
export const CNS_ACTIVE_NS_LIST = 0x02;
export const CNS_NS_DESCRIPTORS = 0x03;

// Feature identifiers.
export const FEAT_ARBITRATION = 0x01;
export const FEAT_POWER_MANAGEMENT = 0x02;
export const FEAT_TEMPERATURE_THRESHOLD = 0x04;
export const FEAT_ERROR_RECOVERY = 0x05;
export const FEAT_VOLATILE_WRITE_CACHE = 0x06;
export const FEAT_NUMBER_OF_QUEUES = 0x07;
export const FEAT_INTERRUPT_COALESCING = 0x08;
export const FEAT_INTERRUPT_VECTOR_CONFIG = 0x09;
export const FEAT_WRITE_ATOMICITY = 0x0a;
export const FEAT_ASYNC_EVENT_CONFIG = 0x0b;

// Log page identifiers.
export const LOG_ERROR_INFO = 0x01;
export const LOG_SMART_HEALTH = 0x02;
export const LOG_FIRMWARE_SLOT = 0x03;

// Asynchronous event types and informations.
export const AE_TYPE_ERROR = 0;
export const AE_TYPE_SMART = 1;
export const AE_TYPE_NOTICE = 2;
export const AE_ERROR_INVALID_DOORBELL = 0x00;
export const AE_ERROR_INVALID_DOORBELL_VALUE = 0x01;
