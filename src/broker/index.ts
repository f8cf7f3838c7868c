/**
 * The broker: real devices served over vfio-user to unprivileged clients. See docs/broker.md.
 *
 * @module vfio-ts/broker
 */

export {
  Broker,
  DEFAULT_BROKER_GRACE_MS,
  DEFAULT_BROKER_MAX_DMA_BYTES,
  DEFAULT_BROKER_MAX_DMA_MAPS,
  type BrokerEvent,
  type BrokerOptions,
} from './broker.js';
export { BrokeredDevice, type BrokeredDeviceOptions, type BrokeredState } from './brokered-device.js';
export { RegionConfigBacking } from './region-backing.js';
