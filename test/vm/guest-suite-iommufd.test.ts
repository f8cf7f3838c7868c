// The whole guest suite (test/guest/, user then root) on the iommufd kernel
// (Linux 6.12 with iommufd and the vfio cdev, vm/kernel.ts), twice: once with
// the container flow forced (VFIO_TS_IOMMU=container, read by
// test/guest/vfio-api.ts) and once as it comes, where `auto` must pick
// iommufd (test/guest/refusals.test.ts checks it). Where the kernel is not
// there, both runs skip, saying how to build it (vm/build-iommufd-kernel.sh).
// See test/vm/guest-suite-run.ts for how a run is replayed here.

import { guestSuiteTest } from './guest-suite-run.js';

guestSuiteTest({
  name: 'guest suite on the iommufd kernel, container flow forced (type1v2)',
  kernel: 'iommufd',
  env: { VFIO_TS_GUEST_AUTO_FLOW: 'iommufd', VFIO_TS_IOMMU: 'container' },
});

guestSuiteTest({
  name: 'guest suite on the iommufd kernel, auto: cdev + iommufd',
  kernel: 'iommufd',
  env: { VFIO_TS_GUEST_AUTO_FLOW: 'iommufd' },
});
