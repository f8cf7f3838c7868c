// The PCI-like NVMe suite (MSI-X table masking, FLR, D3hot) against our NVMe
// model served over vfio-user by a child process.

import { after, before } from 'node:test';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { nvmePciLikeSuite } from './nvme.suite.js';

let srv: ChildServer | undefined;
before(async () => {
  srv = await startChildServer('src/devices/nvme/index.js', 'NvmeModel', { model: { serial: 'pcilike-01' } });
});
after(async () => {
  await srv?.stop();
});

nvmePciLikeSuite('PCI-like view on the NVMe model over vfio-user', () => connectVfioUser(srv!.path));
