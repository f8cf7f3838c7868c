// The PCI-like model through the kernel backend, inside the test guest, as
// the unprivileged user: the edu driver written on the PCI-like model
// (src/drivers/edu-pci-like.ts) on QEMU's edu, and the NVMe suite (MSI-X
// table masking and PBA, FLR by PCIe Device Control keeping the BAR
// programming, D3hot by PMCSR) on QEMU's nvme. The same suites run on our
// models over vfio-user on the host (test/pci-like/). Outside a guest every
// test skips itself, with the reason in its name.

import { openKernelDevice } from './vfio-api.js';
import { eduPciLikeSuite } from '../pci-like/edu-pci-like.suite.js';
import { nvmePciLikeSuite } from '../pci-like/nvme.suite.js';
import { EDU, IN_GUEST, IS_ROOT, NVME } from './helpers.js';

const SKIP = !IN_GUEST
  ? 'not in a test guest (VFIO_TS_GUEST != 1); run: node out/vm/cli.js -- node --test out/test/guest/pci-like.test.js'
  : IS_ROOT
    ? 'must run as the unprivileged user, not root'
    : false;

eduPciLikeSuite('PCI-like edu driver on QEMU edu via the kernel backend', () => openKernelDevice(EDU), { skip: SKIP });
nvmePciLikeSuite('PCI-like view on QEMU nvme via the kernel backend', () => openKernelDevice(NVME), { skip: SKIP });
