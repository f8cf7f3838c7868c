// `vfio-ts lspci`: the grammar; lspci.ts and perms.ts do the work.

import { lspciText } from '../lspci.js';
import { openTarget, parseTarget } from '../open.js';
import { UsageError, type Subcommand } from '../usage.js';

export const lspciCommand: Subcommand = {
  name: 'lspci',
  summary: "lspci <socket|BDF> [--dump|--perms]      a device's config space as its driver sees it, its regions and IRQs",
  help: `usage: vfio-ts lspci <socket|BDF> [--dump | --perms]

Opens the device like a driver would (a vfio-user socket, or a PCI address of a
device bound to vfio-pci) and prints its config space decoded, in the spirit of
lspci -vvv, then its VFIO regions and interrupts.

options:
  --dump    the hex format 'lspci -F FILE' reads, instead
  --perms   also probe which bits of each config register are writable`,
  options: { dump: { type: 'boolean' }, perms: { type: 'boolean' } },
  positionals: { names: ['<socket|BDF>'], required: 1 },
  async run({ values, positionals: [name] }) {
    if (values.dump && values.perms) throw new UsageError('lspci: --dump and --perms do not go together');
    const dev = openTarget(parseTarget(name!), { map: false });
    try {
      process.stdout.write(lspciText(dev, { dump: values.dump === true }));
      if (values.perms) {
        const { formatPermissions, probePermissions } = await import('../perms.js');
        process.stdout.write('\n' + formatPermissions(probePermissions(dev)));
      }
    } finally {
      dev.close();
    }
    return 0;
  },
};
