// The worker thread of serveInWorker (worker.ts): imports the model's module,
// serves the model on the socket, reports 'ready' (or why not) to the parent,
// forwards the server's warnings and client events, and on 'close' closes the
// server and lets the thread end (nothing else keeps its event loop alive).

import { parentPort, workerData } from 'node:worker_threads';
import { VfioTsError } from '../errors.js';
import type { DeviceModel } from './model.js';
import { isServedDevice, type ServedDevice } from './served-device.js';
import { VfioUserServer } from './server.js';
import type { WorkerServeReason } from './worker-errors.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-messages.js';

if (!parentPort) throw new Error('worker-entry.js runs only as serveInWorker’s worker thread');
const port = parentPort;
const start = workerData as WorkerStart;
const post = (m: FromWorker): void => port.postMessage(m);

class Failure extends Error {
  constructor(
    readonly reason: WorkerServeReason,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Served = ServedDevice | DeviceModel;

function asServed(x: unknown): Served | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  if (isServedDevice(x)) return x;
  const config = (x as Partial<DeviceModel>).config;
  return typeof config === 'object' && config !== null ? (x as DeviceModel) : undefined;
}

function codeOf(err: unknown, fallback: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : fallback;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// A class is constructed, any other function called; both get the options.
const isClass = (f: (...args: never[]) => unknown): boolean => /^class[\s{]/.test(Function.prototype.toString.call(f));

async function load(): Promise<Served> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(start.module)) as Record<string, unknown>;
  } catch (err) {
    if (codeOf(err, '') === 'ERR_MODULE_NOT_FOUND') throw new Failure('module-not-found', 'ENOENT', describe(err));
    throw new Failure('module-failed', 'EIO', `importing ${start.module} failed: ${describe(err)}`);
  }
  const what = `export '${start.exportName}' of ${start.module}`;
  if (!(start.exportName in mod)) {
    const names = Object.keys(mod).join(', ') || 'none';
    throw new Failure('no-model', 'EINVAL', `${what} does not exist (its exports: ${names})`);
  }
  const exported = mod[start.exportName];
  let model: unknown = exported;
  if (typeof exported === 'function') {
    try {
      const f = exported as (o: unknown) => unknown;
      model = await (isClass(f) ? new (f as unknown as new (o: unknown) => unknown)(start.modelOptions) : f(start.modelOptions));
    } catch (err) {
      throw new Failure('model-failed', codeOf(err, 'EIO'), `the factory ${what} threw: ${describe(err)}`);
    }
  }
  const served = asServed(model);
  if (!served) {
    const got = typeof exported === 'function' ? 'a factory that returned no DeviceModel' : 'no DeviceModel nor factory';
    throw new Failure('no-model', 'EINVAL', `${what} is ${got} (a DeviceModel has a 'config' declaration)`);
  }
  return served;
}

async function main(): Promise<void> {
  const model = await load();
  let server: VfioUserServer<ServedDevice>;
  try {
    server = isServedDevice(model)
      ? VfioUserServer.listen(start.socket, model, start.server)
      : VfioUserServer.listen(start.socket, model, start.server);
  } catch (err) {
    const code = err instanceof VfioTsError ? err.code : codeOf(err, 'EIO');
    throw new Failure('listen-failed', code, `serving ${start.socket} failed: ${describe(err)}`);
  }
  server.on('warning', (w) => post({ type: 'warning', code: w.code, message: w.message }));
  server.on('client', (event) => post({ type: 'client', event }));
  port.on('message', (m: ToWorker) => {
    if (m.type !== 'close') return;
    void server.close({ graceMs: m.graceMs }).finally(() => {
      post({ type: 'closed' });
      port.close();
    });
  });
  post({ type: 'ready' });
}

main().catch((err: unknown) => {
  const f = err instanceof Failure ? err : new Failure('model-failed', codeOf(err, 'EIO'), describe(err));
  post({ type: 'failed', reason: f.reason, code: f.code, message: f.message });
  port.close();
});
