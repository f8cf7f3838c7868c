// `vfio-ts bind` and `vfio-ts unbind` (root): the grammar; src/kernel/bind.ts writes sysfs.

import { bind, unbind } from '../../kernel/bind.js';
import * as opt from '../options.js';
import type { Subcommand } from '../usage.js';

export const bindCommand: Subcommand = {
  name: 'bind',
  summary: 'bind <BDF> [--user U] [--group G]     (root) bind a device to vfio-pci and give its group file to a user',
  help: `usage: vfio-ts bind <BDF> [--user USER] [--group GROUP]

(root) Binds the PCI device to vfio-pci (driver_override, unbind, probe), waits for its
group file /dev/vfio/N and gives it to USER and GROUP (names or numeric ids). On a kernel
with the vfio cdev (Linux 6.6+) its /dev/vfio/devices/vfioN and /dev/iommu go to them too
(/dev/iommu serves every device: give it to a GROUP when several users drive devices).`,
  options: { user: { type: 'string' }, group: { type: 'string' } },
  positionals: { names: ['<BDF>'], required: 1 },
  async run({ values, positionals: [bdf] }) {
    const name = opt.bdf(bdf!, 'bind');
    const user = values.user === undefined ? undefined : opt.user(values.user as string, '--user');
    const group = values.group === undefined ? undefined : opt.group(values.group as string, '--group');
    const r = await bind(name, { ...(user !== undefined ? { user } : {}), ...(group !== undefined ? { group } : {}) });
    console.log(
      `${r.bdf}: bound to vfio-pci (was ${r.previousDriver ?? 'unbound'}), group ${r.group}: ${r.groupFile}${r.cdev !== null ? `, cdev ${r.cdev}` : ''}${r.iommuFile !== null ? `, ${r.iommuFile}` : ''}`,
    );
    return 0;
  },
};

export const unbindCommand: Subcommand = {
  name: 'unbind',
  summary: 'unbind <BDF> [--force]                 (root) take a device from vfio-pci and let its own driver take it',
  help: `usage: vfio-ts unbind <BDF> [--force]

(root) Unbinds the PCI device from vfio-pci, clears its driver_override and probes it
again, so that its usual driver (if one is loaded) takes it. A device bound to any other
driver is refused (exit 1, naming the driver): unbinding a disk controller or a NIC from
its driver takes the disk or the network away.

options:
  --force   unbind it from whatever driver it has`,
  options: { force: { type: 'boolean' } },
  positionals: { names: ['<BDF>'], required: 1 },
  async run({ values, positionals: [bdf] }) {
    const r = unbind(opt.bdf(bdf!, 'unbind'), { force: values.force === true });
    console.log(`${r.bdf}: unbound from ${r.previousDriver ?? 'no driver'}, now ${r.driver ?? 'without a driver'}`);
    return 0;
  },
};
