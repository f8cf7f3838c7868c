// The one seam between the Driver API and a transport to a device.
//
// A backend offers exactly the operations of a VFIO device file descriptor
// (and of its container, for DMA), synchronously and undecorated: the kernel
// backend implements them with ioctl/pread/pwrite on /dev/vfio, the vfio-user
// backend with messages on a UNIX socket. Everything a driver sees (the
// Device class: region views with mmap fast paths, DMA buffers, interrupts as
// events, reset, unplug) is built once on top of this interface, and so is the
// opt-in PCI-like model. Keep it small: a new backend should be a few hundred
// lines.

import type { DeviceInfo, DmaAccess, IovaRange, IrqAction, IrqData, IrqInfo, RegionInfo } from '../uapi/types.js';

/** Memory that can be mapped for DMA: a shared-memory fd and its mapping here. */
export interface DmaMemory {
  /** A file descriptor for the memory (memfd), passed to vfio-user servers. */
  readonly fd: number;
  /** Offset of this memory within `fd`. */
  readonly fdOffset: number;
  /** Virtual address of the mapping in this process (for the kernel's IOMMU map). */
  readonly address: bigint;
  readonly size: number;
  /**
   * The memory itself, when this process can reach it: a vfio-user client
   * serves the server's DMA_READ / DMA_WRITE messages from it.
   */
  readonly bytes?: Uint8Array;
}

/** A mapped span of a device region, accessible without system calls. */
export interface MappedSpan {
  /** Shared memory of the span: views over it reach the device directly. */
  readonly buffer: ArrayBuffer;
  /** Unmaps the span; later accesses see a detached buffer. Idempotent. */
  unmap(): void;
}

/** Notifications a backend raises asynchronously. */
export interface BackendEvents {
  /** The transport is gone (server closed the socket, device fd revoked...). */
  onClose?: (err?: Error) => void;
}

/** The operations of a VFIO device fd, the one seam under {@link Device}: the kernel and vfio-user backends implement it, so a driver runs on both. */
export interface DeviceBackend {
  /** 'kernel' or 'vfio-user'. */
  readonly kind: string;
  /** Human name: a PCI address or a socket path. */
  readonly name: string;

  deviceInfo(): DeviceInfo;
  regionInfo(index: number): RegionInfo;
  irqInfo(index: number): IrqInfo;

  /** Reads `dst.length` bytes of region `index` at `offset`. Synchronous. */
  regionRead(index: number, offset: number, dst: Uint8Array): void;
  /** Writes `src` to region `index` at `offset`. Synchronous. */
  regionWrite(index: number, offset: number, src: Uint8Array): void;
  /**
   * Maps [offset, offset + size) of region `index`; the span must lie inside
   * one of the region's mmap areas.
   */
  regionMap(index: number, offset: number, size: number, writable: boolean): MappedSpan;

  /** IOVA windows the device may use, and the IOMMU's page sizes (bit mask). */
  dmaInfo(): { ranges: IovaRange[]; pageSizes: bigint; maxMappings?: number };
  dmaMap(memory: DmaMemory, iova: bigint, access: DmaAccess): void;
  dmaUnmap(iova: bigint, size: number): void;

  /** VFIO_DEVICE_SET_IRQS. Eventfds in `data` are borrowed, not owned. */
  setIrqs(index: number, action: IrqAction, start: number, data: IrqData): void;

  /** Function-level reset (VFIO_DEVICE_RESET / DEVICE_RESET). */
  reset(): void;

  /**
   * Low-power entry and exit (VFIO_DEVICE_FEATURE LOW_POWER_ENTRY, _WITH_WAKEUP
   * with `wakeupFd`, _EXIT; Linux 6.0+). Absent where the transport has no
   * such operation.
   */
  setLowPower?(state: 'enter' | 'exit', wakeupFd?: number): void;

  /** Registers the asynchronous notifications. */
  setEvents(events: BackendEvents): void;

  /** Releases every resource; later calls fail with a typed error. Idempotent. */
  close(): void;
}
