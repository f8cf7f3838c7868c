// Commands (NVMe 1.4, 5 and 6): admin and NVM opcodes, the fields of their
// command dwords that both ends use, Identify CNS values, feature and log
// page identifiers, asynchronous event types.

/** Admin command set opcodes (NVMe base specification, Admin Command Set). */
export const ADMIN = {
  DELETE_IO_SQ: 0x00,
  CREATE_IO_SQ: 0x01,
  GET_LOG_PAGE: 0x02,
  DELETE_IO_CQ: 0x04,
  CREATE_IO_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT_REQUEST: 0x0c,
  KEEP_ALIVE: 0x18,
} as const;

/** NVM command set opcodes (NVMe NVM Command Set specification). */
export const NVM = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05,
  WRITE_ZEROES: 0x08,
  DATASET_MANAGEMENT: 0x09,
} as const;

/** Create I/O Completion / Submission Queue, CDW11. */
export const CREATE_QUEUE = {
  /** Physically contiguous. */
  PC: 1 << 0,
  /** Interrupts enabled (completion queue). */
  IEN: 1 << 1,
  /** Interrupt vector (completion queue) or CQ identifier (submission queue): 31:16. */
  ID_SHIFT: 16,
  /** Queue priority (submission queue): 2:1. */
  QPRIO_SHIFT: 1,
} as const;

/** Read / Write / Write Zeroes / Compare, CDW12. */
export const RW = {
  /** Force Unit Access. */
  FUA: 1 << 30,
  /** Write Zeroes: deallocate. */
  DEAC: 1 << 25,
  /** Number of logical blocks, 0's based: 15:0. */
  NLB_MASK: 0xffff,
} as const;

/** Dataset Management, CDW11 attributes; each range is 16 bytes (context attributes, length in blocks, SLBA). */
export const DSM = {
  IDR: 1 << 0,
  IDW: 1 << 1,
  /** Deallocate. */
  AD: 1 << 2,
  RANGE_SIZE: 16,
  RANGE_NLB: 4,
  RANGE_SLBA: 8,
} as const;

/** Identify CNS values. */
export const CNS = {
  NAMESPACE: 0x00,
  CONTROLLER: 0x01,
  ACTIVE_NAMESPACES: 0x02,
  NS_DESCRIPTORS: 0x03,
} as const;

/** Feature identifiers. */
export const FEATURE = {
  ARBITRATION: 0x01,
  POWER_MANAGEMENT: 0x02,
  TEMPERATURE_THRESHOLD: 0x04,
  ERROR_RECOVERY: 0x05,
  VOLATILE_WRITE_CACHE: 0x06,
  NUMBER_OF_QUEUES: 0x07,
  INTERRUPT_COALESCING: 0x08,
  INTERRUPT_VECTOR_CONFIG: 0x09,
  WRITE_ATOMICITY: 0x0a,
  ASYNC_EVENT_CONFIG: 0x0b,
} as const;

/** Set Features CDW10: save the value across resets. */
export const FEATURE_SAVE = 1 << 31;

/** Log page identifiers. */
export const LOG = {
  ERROR_INFO: 0x01,
  SMART_HEALTH: 0x02,
  FIRMWARE_SLOT: 0x03,
} as const;

/** Get Log Page CDW10: Retain Asynchronous Event. */
export const LOG_RAE = 1 << 15;

/** Asynchronous event types (completion DW0 2:0), and the information (15:8) of error events. */
export const ASYNC_EVENT = {
  TYPE_ERROR: 0,
  TYPE_SMART: 1,
  TYPE_NOTICE: 2,
  ERROR_INVALID_DOORBELL: 0x00,
  ERROR_INVALID_DOORBELL_VALUE: 0x01,
} as const;
