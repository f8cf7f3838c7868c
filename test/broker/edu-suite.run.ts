// The edu driver suite through a broker: `node --test` runs this file as the
// unprivileged user inside the guest (test/guest/root-broker.test.ts starts
// the broker as root and names its socket in VFIO_TS_BROKER_SOCKET).

import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { eduDriverSuite } from '../edu/edu-driver.suite.js';

const socket = process.env.VFIO_TS_BROKER_SOCKET;
eduDriverSuite('QEMU edu through the broker', () => connectVfioUser(socket!), {
  skip: socket ? false : 'VFIO_TS_BROKER_SOCKET is not set',
});
