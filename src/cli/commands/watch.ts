// `vfio-ts watch`: the grammar; watch.ts lists and follows.

import * as opt from '../options.js';
import { stopSignal } from '../signals.js';
import { watch } from '../watch.js';
import type { Subcommand } from '../usage.js';

export const watchCommand: Subcommand = {
  name: 'watch',
  summary: 'watch [BDF] [--json]                    PCI devices now, then added, removed, bound, unbound, live (Ctrl-C ends)',
  help: `usage: vfio-ts watch [BDF] [--json]

Prints the PCI devices there are now (a 'present' line each: address, vendor:device,
driver), then one line per event (added, removed, bound, unbound) until Ctrl-C. With
a BDF, only that device. Needs no privilege.

options:
  --json    JSON lines instead`,
  options: { json: { type: 'boolean' } },
  positionals: { names: ['[BDF]'], required: 0 },
  run: ({ values, positionals: [bdf] }) =>
    watch(bdf === undefined ? undefined : opt.bdf(bdf, 'watch'), { json: values.json === true, signal: stopSignal() }),
};
