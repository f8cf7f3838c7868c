// `vfio-ts trace <socket> [--json]`: a live view of a served device's traffic,
// read from the trace socket `vfio-ts serve` keeps next to the device socket.
// The device itself is not opened (its owner has it): everything comes from
// the server, including the capability list used to name config registers.
// Every way the stream can fail (no server, a server killed, a line this
// version cannot render) ends in a message, never in a stack trace.

import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fail, VfioTsError } from '../errors.js';
import { traceSocketPath } from './trace-server.js';
import { formatTraceEvent, type TraceCapability, type TraceEvent } from './trace-format.js';

export interface TraceOptions {
  json?: boolean;
  out?: (line: string) => void;
  /** Stop after this signal (tests); Ctrl-C otherwise. */
  signal?: AbortSignal;
}

function connectError(err: NodeJS.ErrnoException, path: string): VfioTsError {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOENT':
      return fail(
        err.code,
        `no trace socket: is the device served by vfio-ts serve? (nothing listens on ${path}; its server may have been killed)`,
      );
    case 'EACCES':
      return fail('EACCES', `cannot open ${path}: permission denied`);
    case 'ECONNRESET':
    case 'EPIPE':
      return fail(err.code, `the server closed the trace abruptly (${err.code}): it may have been killed`);
    default:
      return new VfioTsError(err.code ?? 'EIO', `trace ${path}: ${err.message}`, { cause: err });
  }
}

/** One line of the stream as text, or a note when it cannot be rendered. */
function render(line: string, caps: { list: TraceCapability[] }): string {
  try {
    const e = JSON.parse(line) as TraceEvent;
    if (e.type === 'hello') caps.list = e.capabilities ?? [];
    return formatTraceEvent(e, caps.list);
  } catch {
    return `(unreadable trace line: ${line.slice(0, 80)})`;
  }
}

/** Follows the trace until the server closes it (resolves 0) or `signal` aborts; rejects with a typed error. */
export function trace(socket: string, options: TraceOptions = {}): Promise<number> {
  const path = socket.endsWith('.trace') ? socket : traceSocketPath(socket);
  if (!existsSync(path)) {
    throw fail('ENOENT', `no trace socket: is the device served by vfio-ts serve? (${path} does not exist)`);
  }
  const out = options.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const caps = { list: [] as TraceCapability[] };
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let failed: VfioTsError | undefined;
    const stop = (): void => {
      s.destroy();
      resolve(0);
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    // The readline interface re-emits the socket's errors: both get a listener.
    const onError = (err: NodeJS.ErrnoException): void => {
      failed ??= connectError(err, path);
    };
    s.on('error', onError);
    const lines = createInterface({ input: s, crlfDelay: Infinity });
    lines.on('error', onError);
    lines.on('line', (line) => {
      if (line) out(options.json ? line : render(line, caps));
    });
    s.once('close', () => {
      options.signal?.removeEventListener('abort', stop);
      if (failed) {
        reject(failed);
        return;
      }
      if (!options.json && !options.signal?.aborted) out('(the server closed the trace)');
      resolve(0);
    });
  });
}
