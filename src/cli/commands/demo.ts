// `vfio-ts demo`: the grammar (none); demo.ts narrates.

import type { Subcommand } from '../usage.js';

export const demoCommand: Subcommand = {
  name: 'demo',
  summary: 'demo                                    serve the NVMe model and drive it over vfio-user (the default)',
  help: `usage: vfio-ts demo

Serves the NVMe device model in a child process (vfio-ts serve nvme) and drives it over
vfio-user with the NVMe driver, narrating each step; ends with a summary line. Exits 0
when every check held, 1 when one did not; on SIGINT, SIGTERM or SIGHUP it stops the
child, removes its temporary folder and exits 128 + the signal's number.`,
  options: {},
  positionals: { names: [], required: 0 },
  async run() {
    const { demo } = await import('../demo.js');
    return demo();
  },
};
