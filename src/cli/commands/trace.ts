// `vfio-ts trace`: the grammar; trace.ts follows the stream.

import { stopSignal } from '../signals.js';
import { trace } from '../trace.js';
import type { Subcommand } from '../usage.js';

export const traceCommand: Subcommand = {
  name: 'trace',
  summary: "trace <socket> [--json]                 follow a served device's traffic, decoded (Ctrl-C ends)",
  help: `usage: vfio-ts trace <socket> [--json]

Follows the traffic of a device served by 'vfio-ts serve', decoded, from <socket>.trace,
until Ctrl-C (exit 0) or the server closes the trace (exit 0; exit 1 if it broke off).

options:
  --json    the raw stream: one JSON object per line`,
  options: { json: { type: 'boolean' } },
  positionals: { names: ['<socket>'], required: 1 },
  run: ({ values, positionals: [socket] }) => trace(socket!, { json: values.json === true, signal: stopSignal() }),
};
