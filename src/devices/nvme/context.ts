// What a command handler (admin.ts, io.ts) may use of the controller: its
// limits and identity, the namespaces, host memory through the PRPs, the
// queues, the features, the event and error logs. The model implements it;
// the handlers never see the model itself.

import type { DmaWindows } from './dma-windows.js';
import type { AsyncEvents } from './events.js';
import type { FeatureState } from './features.js';
import type { ControllerIdentity } from './identify.js';
import type { ErrorLog, HealthCounters } from './logs.js';
import type { Namespace } from './namespace.js';
import type { PrpWalker } from './prp.js';
import type { QueueSet } from './queues.js';
import type { SubmissionEntry } from './submission-entry.js';

export interface CommandContext {
  readonly identity: ControllerIdentity;
  /** Largest transfer of one command, bytes (MDTS). */
  readonly maxTransfer: number;
  readonly maxQueueEntries: number;
  readonly maxIoQueues: number;
  readonly msixVectors: number;
  /** CC as the host wrote it (entry sizes), and its memory page size. */
  readonly cc: number;
  readonly pageSize: number;

  readonly namespaces: readonly Namespace[];
  namespace(nsid: number): Namespace | undefined;

  /** The client's DMA memory: windows (queues), the PRP walker (data), a scratch buffer of maxTransfer bytes or more. */
  readonly windows: DmaWindows;
  readonly prp: PrpWalker;
  readonly scratch: Uint8Array;
  /** Copies `len` bytes of `src` to the command's PRPs (data to the host). Returns a status. */
  toHost(cmd: SubmissionEntry, src: Uint8Array, len: number): number;
  /** Copies `len` bytes from the command's PRPs into `dst` (data from the host). Returns a status. */
  fromHost(cmd: SubmissionEntry, dst: Uint8Array, len: number): number;

  readonly queues: Pick<QueueSet, 'sq' | 'cq' | 'addSq' | 'addCq' | 'removeSq' | 'removeCq' | 'sqList' | 'cqList'>;
  readonly features: FeatureState;
  readonly events: Pick<AsyncEvents, 'request' | 'abort' | 'acknowledgeLog'>;
  readonly errors: Pick<ErrorLog, 'entries' | 'count' | 'capacity'>;
  readonly health: HealthCounters;
}
