// The PCI-like edu driver suite against our edu model over vfio-user (a child
// process serves it); the same suite runs on QEMU's edu in the guest
// (test/guest/pci-like.test.ts).

import { after, before } from 'node:test';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { serveEduInChild, type ChildServer } from '../edu/serve-child.js';
import { eduPciLikeSuite } from './edu-pci-like.suite.js';

let srv: ChildServer | undefined;
before(async () => {
  srv = await serveEduInChild();
});
after(async () => {
  await srv?.close();
});

eduPciLikeSuite('PCI-like edu driver on the edu model over vfio-user', () => connectVfioUser(srv!.path));
