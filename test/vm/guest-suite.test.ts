// The kernel backend's guest tests (test/guest/) in one QEMU guest booting
// the host's Debian kernel (6.1: no vfio cdev, so `auto` takes the container
// flow); see test/vm/guest-suite-run.ts for how a run is replayed here.

import { guestSuiteTest } from './guest-suite-run.js';

guestSuiteTest({
  name: 'guest suite: kernel backend tests in one QEMU guest (user, then root)',
  kernel: 'default',
  env: { VFIO_TS_GUEST_AUTO_FLOW: 'container' },
});
