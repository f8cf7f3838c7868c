// What serveInWorker's two sides tell each other (structured-clone values only).

import type { ClientEvent, VfioUserServerOptions } from './server.js';
import type { WorkerServeReason } from './worker-errors.js';

/** The worker's `workerData`. */
export interface WorkerStart {
  /** The model's module, as a URL string. */
  module: string;
  /** The export that holds the model or its factory. */
  exportName: string;
  socket: string;
  server: VfioUserServerOptions;
  modelOptions: unknown;
}

/** Parent to worker. */
export type ToWorker = { type: 'close'; graceMs: number };

/** Worker to parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; reason: WorkerServeReason; code: string; message: string }
  | { type: 'warning'; code: string; message: string }
  | { type: 'client'; event: ClientEvent }
  | { type: 'closed' };
