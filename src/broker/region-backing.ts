// The "hardware" behind the broker's config space: the config region of an
// opened device (the kernel's vfio-pci config region, itself already filtered
// by the kernel; or a vfio-user device's).
//
// The broker's engine keeps its own shadow for the bits the framework
// virtualises (BARs, MSI/MSI-X enables, the capability chain it presents) and
// reads and writes every other bit here, so a client sees the kernel's policy
// with the framework's applied on top: never more than either allows.

import type { DeviceBackend } from '../client/backend.js';
import { getLe, setLe } from '../pci/le.js';
import type { AccessSize, ConfigBacking } from '../pci/backing.js';
import { pciRegion } from '../uapi/vfio.js';

export class RegionConfigBacking implements ConfigBacking {
  readonly #backend: DeviceBackend;
  readonly #buf = new Uint8Array(4);
  readonly #views: Uint8Array[];

  constructor(backend: DeviceBackend) {
    this.#backend = backend;
    this.#views = [1, 2, 3, 4].map((n) => this.#buf.subarray(0, n));
  }

  read(offset: number, size: AccessSize): number {
    const v = this.#views[size - 1]!;
    this.#backend.regionRead(pciRegion.CONFIG, offset, v);
    return getLe(v, 0, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const v = this.#views[size - 1]!;
    setLe(v, 0, size, value);
    this.#backend.regionWrite(pciRegion.CONFIG, offset, v);
  }

  // No reset(): the broker resets the device itself (VFIO_DEVICE_RESET), once.
}
