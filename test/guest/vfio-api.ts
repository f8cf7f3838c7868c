// What guest tests and their child snippets import as `vfio`: the Driver API
// and the kernel entry point together, as an application using both would
// see them. openKernelDevice and openKernelBackend take the flow from
// VFIO_TS_IOMMU ('container' or 'iommufd') when the caller names neither a
// flow nor a container, so that test/vm/guest-suite-iommufd.test.ts can run
// the whole suite through either flow on one kernel.
import {
  openKernelBackend as openBackend,
  openKernelDevice as openDevice,
  type IommuFlow,
  type KernelOpenOptions,
  type OpenKernelDeviceOptions,
} from '../../src/client/kernel/open.js';

export * from '../../src/index.js';
export * from '../../src/kernel/index.js';
export { openGroupCount } from '../../src/client/kernel/open.js';

const FORCED = (process.env.VFIO_TS_IOMMU || undefined) as IommuFlow | undefined;

function withFlow<T extends KernelOpenOptions>(options: T | undefined): T {
  if (FORCED === undefined || options?.iommu !== undefined || options?.container !== undefined) return options ?? ({} as T);
  return { ...options, iommu: FORCED } as T;
}

export function openKernelDevice(bdf: string, options?: OpenKernelDeviceOptions): ReturnType<typeof openDevice> {
  return openDevice(bdf, withFlow(options));
}

export function openKernelBackend(bdf: string, options?: KernelOpenOptions): ReturnType<typeof openBackend> {
  return openBackend(bdf, withFlow(options));
}
