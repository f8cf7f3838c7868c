// `vfio-ts trace <socket> [--json]`: a live view of a served device's traffic,
// read from the trace socket `vfio-ts serve` keeps next to the device socket.
// The device itself is not opened (its owner has it): everything comes from
// the server, including the capability list used to name config registers.

import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fail } from '../errors.js';
import { traceSocketPath } from './trace-server.js';
import { formatTraceEvent, type TraceCapability, type TraceEvent } from './trace-format.js';

export interface TraceOptions {
  json?: boolean;
  out?: (line: string) => void;
  /** Stop after this signal (tests); Ctrl-C otherwise. */
  signal?: AbortSignal;
}

/** Follows the trace until the server closes it (resolves 0) or `signal` aborts. */
export function trace(socket: string, options: TraceOptions = {}): Promise<number> {
  const path = socket.endsWith('.trace') ? socket : traceSocketPath(socket);
  if (!existsSync(path)) {
    throw fail('ENOENT', `no trace socket: is the device served by vfio-ts serve? (${path} does not exist)`);
  }
  const out = options.out ?? ((l: string) => process.stdout.write(l + '\n'));
  let caps: TraceCapability[] = [];
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const stop = (): void => {
      s.destroy();
      resolve(0);
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
        reject(fail(err.code, `no trace socket: is the device served by vfio-ts serve? (nothing listens on ${path})`));
      } else if (err.code === 'EACCES') {
        reject(fail('EACCES', `cannot open ${path}: permission denied`));
      } else reject(err);
    });
    const lines = createInterface({ input: s, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (!line) return;
      if (options.json) {
        out(line);
        return;
      }
      let e: TraceEvent;
      try {
        e = JSON.parse(line) as TraceEvent;
      } catch {
        out(`(unreadable trace line: ${line.slice(0, 80)})`);
        return;
      }
      if (e.type === 'hello') caps = e.capabilities;
      out(formatTraceEvent(e, caps));
    });
    s.once('close', () => {
      options.signal?.removeEventListener('abort', stop);
      if (!options.json && !options.signal?.aborted) out('(the server closed the trace)');
      resolve(0);
    });
  });
}
