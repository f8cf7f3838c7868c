/**
 * The device framework and the vfio-user server. See docs/server.md.
 *
 * @module vfio-ts/server
 */

export * from './model.js';
export * from './errors.js';
export { VirtualDevice, type VirtualDeviceOptions } from './device.js';
export { DeviceDma, type DmaDirection, type DmaMapInfo } from './dma.js';
export {
  DmaSpace,
  DmaRegion,
  MAX_DIRECT_MAP,
  type DmaHooks,
  type DmaLimits,
  type DmaMapArgs,
  type DmaPiece,
  type DmaTransport,
} from './dma-space.js';
export { isServedDevice, type RegionDescription, type ServedDevice } from './served-device.js';
export { Interrupts, isEventFd, type IrqInfoResult, type IrqMode, type IrqResult } from './irqs.js';
export { ClientSession, type MessageTrace, type SessionLimits, type SessionState } from './session.js';
export {
  SERVING_LINGER_US,
  VfioUserServer,
  type ClientEvent,
  type ClientEventType,
  type ClientInfo,
  type CloseOptions,
  type VfioUserServerOptions,
} from './server.js';
export { serveInWorker, ServedInWorker, type ServeInWorkerOptions, type ServedInWorkerEvents, type WorkerWarning } from './worker.js';
export { WorkerServeError, type WorkerServeReason } from './worker-errors.js';
