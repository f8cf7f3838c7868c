// The plain data of a VFIO device as both backends report it: device, region
// and interrupt information, mirroring struct vfio_device_info,
// vfio_region_info (with its capability chain) and vfio_irq_info.

/** struct vfio_device_info, decoded. */
export interface DeviceInfo {
  /** Raw VFIO_DEVICE_FLAGS_* bits. */
  flags: number;
  /** The device supports VFIO_DEVICE_RESET. */
  reset: boolean;
  /** A vfio-pci device (region and IRQ indexes follow the PCI layout). */
  pci: boolean;
  numRegions: number;
  numIrqs: number;
}

/** One directly mappable span of a region (sparse mmap capability). */
export interface MmapArea {
  offset: number;
  size: number;
}

/** struct vfio_region_info with its capabilities, decoded. */
export interface RegionInfo {
  index: number;
  /** Raw VFIO_REGION_INFO_FLAG_* bits. */
  flags: number;
  size: number;
  readable: boolean;
  writable: boolean;
  /** The region (or the areas below) can be mmapped. */
  mappable: boolean;
  /**
   * Where mmap is allowed. For a mappable region without a sparse-mmap
   * capability, the whole region; empty when not mappable.
   */
  mmapAreas: MmapArea[];
  /** VFIO_REGION_INFO_CAP_TYPE, when present. */
  type?: { type: number; subtype: number };
  /** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE was reported. */
  msixMappable?: boolean;
  /**
   * Backend detail: the kernel's device-fd offset of the region
   * (vfio-user has none). Never computed, always from REGION_INFO.
   */
  fdOffset?: bigint;
}

/** struct vfio_irq_info, decoded. */
export interface IrqInfo {
  index: number;
  /** Raw VFIO_IRQ_INFO_* bits. */
  flags: number;
  count: number;
  eventfd: boolean;
  maskable: boolean;
  automasked: boolean;
  noresize: boolean;
}

/** What SET_IRQS carries: nothing, booleans, or eventfds (-1 unbinds). */
export type IrqData =
  | { kind: 'none'; count: number }
  | { kind: 'bool'; values: readonly boolean[] }
  | { kind: 'eventfd'; fds: readonly number[] };

/** What a SET_IRQS request does to an interrupt: mask, unmask, or trigger (bind an eventfd). */
export type IrqAction = 'mask' | 'unmask' | 'trigger';

/** DMA permissions of a mapping, from the device's point of view. */
export interface DmaAccess {
  read: boolean;
  write: boolean;
}

/** An IOVA window the IOMMU accepts, inclusive of both ends. */
export interface IovaRange {
  start: bigint;
  end: bigint;
}
