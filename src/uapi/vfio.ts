// Facts of Linux's VFIO user API (include/uapi/linux/vfio.h), shared by the
// kernel backend and the vfio-user codecs, which reuse the same structures.
//
// ioctl numbers are _IO(';', 100 + n): VFIO encodes no size or direction in
// them, so they are the same on every architecture.

const VFIO_TYPE = 0x3b; // ';'
const VFIO_BASE = 100;
const io = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n);

/** VFIO_GET_API_VERSION's answer on every kernel with VFIO. */
export const VFIO_API_VERSION = 0;

/** ioctls, grouped by the fd they apply to. */
export const vfioIoctl = {
  // container (/dev/vfio/vfio)
  GET_API_VERSION: io(0),
  CHECK_EXTENSION: io(1),
  SET_IOMMU: io(2),
  IOMMU_GET_INFO: io(12),
  IOMMU_MAP_DMA: io(13),
  IOMMU_UNMAP_DMA: io(14),
  // group (/dev/vfio/N)
  GROUP_GET_STATUS: io(3),
  GROUP_SET_CONTAINER: io(4),
  GROUP_UNSET_CONTAINER: io(5),
  GROUP_GET_DEVICE_FD: io(6),
  // device
  DEVICE_GET_INFO: io(7),
  DEVICE_GET_REGION_INFO: io(8),
  DEVICE_GET_IRQ_INFO: io(9),
  DEVICE_SET_IRQS: io(10),
  DEVICE_RESET: io(11),
  DEVICE_GET_PCI_HOT_RESET_INFO: io(12),
  DEVICE_PCI_HOT_RESET: io(13),
  DEVICE_IOEVENTFD: io(16),
  DEVICE_FEATURE: io(17),
} as const;

/** Container extensions / IOMMU types. */
export const iommuType = {
  TYPE1: 1,
  SPAPR_TCE: 2,
  TYPE1v2: 3,
  DMA_CC: 4,
  UNMAP_ALL: 9,
  UPDATE_VADDR: 10,
} as const;

/** VFIO_GROUP_FLAGS_VIABLE: every device of the group is bound to vfio (or no driver). */
export const GROUP_FLAGS_VIABLE = 1 << 0;
/** VFIO_GROUP_FLAGS_CONTAINER_SET: the group is in a container. */
export const GROUP_FLAGS_CONTAINER_SET = 1 << 1;

/** VFIO_DEVICE_FLAGS_*: what a device offers (vfio_device_info.flags). */
export const deviceFlags = {
  RESET: 1 << 0,
  PCI: 1 << 1,
  PLATFORM: 1 << 2,
  AMBA: 1 << 3,
  CCW: 1 << 4,
  AP: 1 << 5,
  FSL_MC: 1 << 6,
  CAPS: 1 << 7,
} as const;

/** VFIO_REGION_INFO_FLAG_*: what a region allows (vfio_region_info.flags). */
export const regionFlags = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  MMAP: 1 << 2,
  CAPS: 1 << 3,
} as const;

/** Region-info capability ids. */
export const regionCap = {
  SPARSE_MMAP: 1,
  TYPE: 2,
  MSIX_MAPPABLE: 3,
} as const;

/** vfio-pci region indexes. */
export const pciRegion = {
  BAR0: 0,
  BAR1: 1,
  BAR2: 2,
  BAR3: 3,
  BAR4: 4,
  BAR5: 5,
  ROM: 6,
  CONFIG: 7,
  VGA: 8,
  NUM_REGIONS: 9,
} as const;

/** vfio-pci interrupt indexes. */
export const pciIrq = {
  INTX: 0,
  MSI: 1,
  MSIX: 2,
  ERR: 3,
  REQ: 4,
  NUM_IRQS: 5,
} as const;

/** VFIO_IRQ_INFO_*: what an interrupt index supports (vfio_irq_info.flags). */
export const irqInfoFlags = {
  EVENTFD: 1 << 0,
  MASKABLE: 1 << 1,
  AUTOMASKED: 1 << 2,
  NORESIZE: 1 << 3,
} as const;

/** VFIO_IRQ_SET_*: data type and action of a SET_IRQS request. */
export const irqSetFlags = {
  DATA_NONE: 1 << 0,
  DATA_BOOL: 1 << 1,
  DATA_EVENTFD: 1 << 2,
  ACTION_MASK: 1 << 3,
  ACTION_UNMASK: 1 << 4,
  ACTION_TRIGGER: 1 << 5,
  DATA_TYPE_MASK: (1 << 0) | (1 << 1) | (1 << 2),
  ACTION_TYPE_MASK: (1 << 3) | (1 << 4) | (1 << 5),
} as const;

/** VFIO_DMA_MAP_FLAG_*: access of a type1 IOMMU mapping. */
export const dmaMapFlags = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  VADDR: 1 << 2,
} as const;

/** VFIO_DMA_UNMAP_FLAG_*. */
export const dmaUnmapFlags = {
  GET_DIRTY_BITMAP: 1 << 0,
  ALL: 1 << 1,
  VADDR: 1 << 2,
} as const;

/** VFIO_IOMMU_INFO_*: what VFIO_IOMMU_GET_INFO reports. */
export const iommuInfoFlags = {
  PGSIZES: 1 << 0,
  CAPS: 1 << 1,
} as const;

/** IOMMU info capability ids. */
export const iommuCap = {
  IOVA_RANGE: 1,
  MIGRATION: 2,
  DMA_AVAIL: 3,
} as const;

/** VFIO_DEVICE_FEATURE_*: the feature number mask, GET/SET/PROBE and the feature numbers. */
export const deviceFeature = {
  MASK: 0xffff,
  GET: 1 << 16,
  SET: 1 << 17,
  PROBE: 1 << 18,
  PCI_VF_TOKEN: 0,
  MIGRATION: 1,
  MIG_DEVICE_STATE: 2,
  LOW_POWER_ENTRY: 3,
  LOW_POWER_ENTRY_WITH_WAKEUP: 4,
  LOW_POWER_EXIT: 5,
  DMA_LOGGING_START: 6,
  DMA_LOGGING_STOP: 7,
  DMA_LOGGING_REPORT: 8,
} as const;

/** Migration states of VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (v2 protocol). */
export const migState = {
  ERROR: 0,
  STOP: 1,
  RUNNING: 2,
  STOP_COPY: 3,
  RESUMING: 4,
  RUNNING_P2P: 5,
  PRE_COPY: 6,
  PRE_COPY_P2P: 7,
} as const;

/** VFIO_MIGRATION_*: the migration capabilities a device reports. */
export const migrationFlags = {
  STOP_COPY: 1 << 0,
  P2P: 1 << 1,
  PRE_COPY: 1 << 2,
} as const;

// ---------------------------------------------------------------------------
// Added for the kernel backend (src/kernel/, src/client/kernel/): the cdev/iommufd
// flow (Linux 6.6+) and the struct sizes the backend encodes. The iommufd
// numbers and layouts are those of include/uapi/linux/iommufd.h and the cdev
// part of linux/vfio.h of Linux 6.6+ (this machine's headers are 6.1's and
// lack both; the layouts are checked field by field in test/kernel/structs.test.ts).

/** ioctls of a device cdev (/dev/vfio/devices/vfioN), Linux 6.6+. */
export const cdevIoctl = {
  DEVICE_BIND_IOMMUFD: io(18),
  DEVICE_ATTACH_IOMMUFD_PT: io(19),
  DEVICE_DETACH_IOMMUFD_PT: io(20),
} as const;

/** Sizes of the fixed parts of the structs the kernel backend passes (argsz). */
export const structSize = {
  GROUP_STATUS: 8,
  DEVICE_INFO: 20,
  REGION_INFO: 32,
  IRQ_INFO: 16,
  IRQ_SET: 20,
  HOT_RESET_INFO: 12,
  PCI_DEPENDENT_DEVICE: 8,
  IOMMU_TYPE1_INFO: 24,
  DMA_MAP: 32,
  DMA_UNMAP: 24,
  INFO_CAP_HEADER: 8,
  /** vfio_device_bind_iommufd up to out_devid (the kernel's minsz). */
  BIND_IOMMUFD: 16,
  /** vfio_device_attach_iommufd_pt up to pt_id (the kernel's minsz). */
  ATTACH_IOMMUFD_PT: 12,
  DETACH_IOMMUFD_PT: 8,
} as const;

// iommufd (/dev/iommu): _IO(';', 0x80 + n), the size in each struct's first u32.
const IOMMUFD_CMD_BASE = 0x80;
const iommufdIo = (n: number): number => (VFIO_TYPE << 8) | (IOMMUFD_CMD_BASE + n);

/** iommufd ioctl numbers (include/uapi/linux/iommufd.h): _IO(';', 0x80 + n). */
export const iommufdIoctl = {
  DESTROY: iommufdIo(0),
  IOAS_ALLOC: iommufdIo(1),
  IOAS_ALLOW_IOVAS: iommufdIo(2),
  IOAS_COPY: iommufdIo(3),
  IOAS_IOVA_RANGES: iommufdIo(4),
  IOAS_MAP: iommufdIo(5),
  IOAS_UNMAP: iommufdIo(6),
  OPTION: iommufdIo(7),
  VFIO_IOAS: iommufdIo(8),
} as const;

/** IOMMU_IOAS_MAP_*: how an IOAS mapping is placed and accessed. */
export const ioasMapFlags = {
  FIXED_IOVA: 1 << 0,
  WRITEABLE: 1 << 1,
  READABLE: 1 << 2,
} as const;

/** Sizes of the iommufd ioctl structures, their `size` field. */
export const iommufdStructSize = {
  DESTROY: 8,
  IOAS_ALLOC: 12,
  IOAS_IOVA_RANGES: 32,
  IOVA_RANGE: 16,
  IOAS_MAP: 40,
  IOAS_UNMAP: 24,
} as const;
