// serveInWorker: the supported way to run a device model beside a driver in
// one program. The Driver API is synchronous (a BAR read blocks its thread
// until the reply comes), so a server on the driver's own thread could never
// answer it (connecting fails at once with EDEADLK, sys/served-here.ts); a
// worker thread has its own event loop and answers while the driver's thread
// waits.

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ClientEvent, CloseOptions, VfioUserServerOptions } from './server.js';
import { WorkerServeError } from './worker-errors.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-messages.js';

/** serveInWorker's options: the socket, the server's options, and how to find and build the model. */
export interface ServeInWorkerOptions extends VfioUserServerOptions {
  /** The socket path to serve on (a stale socket file is replaced; a live one is EADDRINUSE). */
  socket: string;
  /** The module's export that holds the model or its factory (default 'default'). */
  export?: string;
  /** Passed to the factory (structured-cloned into the worker). */
  modelOptions?: unknown;
  /** How long the worker may take to import, build and listen (default 10000 ms). */
  startTimeoutMs?: number;
}

/** A server's warning, as forwarded from the worker. */
export interface WorkerWarning {
  code: string;
  message: string;
}

/** The events of a ServedInWorker, with their arguments. */
export interface ServedInWorkerEvents {
  warning: [w: WorkerWarning];
  client: [e: ClientEvent];
  error: [err: WorkerServeError];
  close: [];
}

// How long close() waits for the thread to end by itself before terminating it
// (a model's own timer could keep the thread's loop alive).
const EXIT_WAIT_MS = 2000;

/**
 * A device model served on a socket by a worker thread (see serveInWorker).
 * Events: 'warning' and 'client' (the server's, forwarded), 'error' (a
 * WorkerServeError 'worker-exited': the thread died, e.g. an uncaught
 * exception in the model; like any 'error' event it throws when nobody
 * listens), 'close' (the thread has ended).
 */
export class ServedInWorker extends EventEmitter<ServedInWorkerEvents> {
  /** The socket path served. */
  readonly socket: string;
  readonly #worker: Worker;
  #exited: Promise<void>;
  #closing: Promise<void> | undefined;

  /** @internal Built by serveInWorker. */
  constructor(socket: string, worker: Worker, exited: Promise<void>) {
    super();
    this.socket = socket;
    this.#worker = worker;
    this.#exited = exited;
  }

  /** The worker thread's id (worker_threads threadId). */
  get threadId(): number {
    return this.#worker.threadId;
  }

  /**
   * Stops serving: the server closes (socket file removed, REQ to the owner,
   * `graceMs` for it to leave) and the thread ends. Resolves once the thread
   * is gone, so it keeps the process alive no longer. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((done) => {
        const onMessage = (m: FromWorker): void => {
          if (m.type === 'closed') done();
        };
        this.#worker.on('message', onMessage);
        void this.#exited.then(() => done());
      });
      this.#worker.postMessage({ type: 'close', graceMs: options.graceMs ?? 0 } satisfies ToWorker);
      await closed;
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        this.#exited.then(() => true),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), EXIT_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!ended) await this.#worker.terminate();
      await this.#exited;
    })();
    return this.#closing;
  }

  /** @internal */
  get closing(): boolean {
    return this.#closing !== undefined;
  }
}

function moduleUrl(module: URL | string): string {
  if (module instanceof URL) return module.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(module)) return module; // already a URL (file:, data:)
  if (module.startsWith('.') || module.startsWith('/')) return pathToFileURL(resolve(module)).href;
  return module; // a package specifier, resolved from vfio-ts's own folder
}

/**
 * Serves a device model on `options.socket` from a new worker thread and
 * resolves once it listens; `close()` on the result stops it.
 *
 * The module contract: the module (a URL such as `new URL('./model.js',
 * import.meta.url)`, a file path, or a package specifier like
 * 'vfio-ts/devices/edu') exports, under `options.export` (default
 * 'default'), one of
 * - a DeviceModel (an object with a `config` declaration) or a ServedDevice;
 * - a factory function `(modelOptions) => DeviceModel | Promise<DeviceModel>`;
 * - a class whose constructor takes `modelOptions` (e.g. `export: 'EduModel'`).
 * The module is imported in the worker, so the model lives there: share state
 * with it only through the device (its BARs, DMA, interrupts) or messages.
 *
 * Rejects with a WorkerServeError whose `reason` says why: 'module-not-found'
 * (ENOENT), 'module-failed', 'no-model' (EINVAL), 'model-failed',
 * 'listen-failed' (e.g. EADDRINUSE for a socket in use), 'timeout'
 * (ETIMEDOUT), 'worker-exited'. The thread is gone by then.
 */
export async function serveInWorker(module: URL | string, options: ServeInWorkerOptions): Promise<ServedInWorker> {
  const { socket, export: exportName = 'default', modelOptions, startTimeoutMs = 10_000, ...server } = options;
  if (typeof socket !== 'string' || socket === '')
    throw new WorkerServeError('listen-failed', 'EINVAL', 'serveInWorker needs options.socket, a path');
  const url = moduleUrl(module);
  if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) {
    throw new WorkerServeError('module-not-found', 'ENOENT', `the model's module ${fileURLToPath(url)} does not exist`);
  }
  const data: WorkerStart = { module: url, exportName, socket, server, modelOptions };
  // The thread inherits node's flags, but --input-type (of a program given with
  // -e) would make Node refuse to load the thread's file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: data, execArgv });
  let crash: unknown;
  worker.on('error', (err) => {
    crash = err;
  });
  const exited = new Promise<void>((done) => worker.once('exit', () => done()));
  const served = new ServedInWorker(socket, worker, exited);

  await new Promise<void>((ready, reject) => {
    const timer = setTimeout(() => {
      fail(new WorkerServeError('timeout', 'ETIMEDOUT', `the worker did not serve ${socket} within ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    const onMessage = (m: FromWorker): void => {
      if (m.type === 'ready') {
        cleanup();
        ready();
      } else if (m.type === 'failed') fail(new WorkerServeError(m.reason, m.code, m.message));
    };
    const onExit = (): void => {
      fail(new WorkerServeError('worker-exited', 'EIO', `the worker ended before serving ${socket}`, { cause: crash }));
    };
    function cleanup(): void {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    }
    function fail(err: WorkerServeError): void {
      cleanup();
      void worker.terminate().then(() => reject(err));
    }
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });

  worker.on('message', (m: FromWorker) => {
    if (m.type === 'warning') served.emit('warning', { code: m.code, message: m.message });
    else if (m.type === 'client') served.emit('client', m.event);
  });
  void exited.then(() => {
    if (!served.closing) {
      const message = `the worker serving ${socket} ended unexpectedly${crash ? `: ${String((crash as Error).message ?? crash)}` : ''}`;
      served.emit('error', new WorkerServeError('worker-exited', 'EIO', message, { cause: crash }));
    }
    served.emit('close');
  });
  return served;
}
