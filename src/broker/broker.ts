// The broker: a privileged process that holds a real device through
// /dev/vfio and serves it over vfio-user to unprivileged clients, who need no
// access to /dev/vfio at all.
//
// A Broker is a BrokeredDevice (the device and the policy layered on it)
// behind a VfioUserServer (the protocol, ownership, limits, allow-lists).
// What it adds is the device's life cycle:
//
// - One owner at a time; when it leaves (or dies) its IOMMU maps and
//   interrupts are undone and the device is reset by the kernel and reopened
//   before the next owner is admitted.
// - Unplug: when the device asks to be released (the kernel's REQ, on unbind
//   or hot-unplug), when the uevent monitor sees it removed or unbound, or
//   when the backend behind it goes away, the device is withdrawn: the owner
//   gets a REQ and `graceMs` to leave, after which its connection is closed
//   and the device handed back to the kernel (so the unbind can complete).
//   Until the device is bound to vfio-pci again (the monitor's 'bound'),
//   clients are refused with ENODEV.
// - Limits per client: DMA maps (count and bytes), message sizes, fds.

import { EventEmitter } from 'node:events';
import type { DeviceBackend } from '../client/backend.js';
import { fail } from '../errors.js';
import type { HideQuery } from '../pci/index.js';
import { SERVING_LINGER_US, VfioUserServer, type ClientEvent, type VfioUserServerOptions } from '../server/server.js';
import type { ServerWarning } from '../server/errors.js';
import { normalizeBdf } from '../kernel/bdf.js';
import { DeviceMonitor, type PciDeviceEvent } from '../kernel/monitor.js';
import { openKernelBackend } from '../client/kernel/open.js';
import { BrokeredDevice } from './brokered-device.js';

/** What a {@link Broker} serves, on which socket, to whom, with which limits. */
export interface BrokerOptions {
  /** The device to serve (PCI address); opened through the kernel backend. */
  bdf?: string;
  /** Or: how to open the device (tests; a chained vfio-user device). One of `bdf` and `open` is needed. */
  open?: () => DeviceBackend;
  /** The vfio-user socket path. */
  socket: string;
  /** Clients allowed, by uid / gid (SO_PEERCRED). Without either list only root may connect. */
  allowUids?: readonly number[];
  allowGids?: readonly number[];
  /** Socket file mode (default 0o666 when an allow-list is given - the list is the gate - else 0o600). */
  socketMode?: number;
  /** How long an owner may take to leave after a release request (default 5000 ms). */
  graceMs?: number;
  /** Most DMA maps per client (default 4096). */
  maxDmaMaps?: number;
  /** Most bytes a client may have mapped (default 1 GiB). */
  maxDmaBytes?: bigint | number;
  /** Largest REGION_READ/WRITE (default 1 MiB). */
  maxDataXferSize?: number;
  /** How long a session waits for its client's next message before returning to the event loop (VfioUserServerOptions.lingerUs, default 1000). */
  lingerUs?: number;
  /** Watch uevents for the device's removal and rebinding (default true with `bdf`). */
  monitor?: boolean;
  /** Capabilities to hide beyond the kernel's and the framework's policy. */
  hide?: (cap: HideQuery) => boolean;
  /**
   * Offer memory BARs for direct mapping through their sysfs resource files
   * (with `bdf` only; default false: BAR access by messages). See
   * src/broker/direct-bar.ts for what this gives and how it is revoked.
   */
  mmap?: boolean;
}

/** What a broker reports, for logs: clients, release requests, revocations. */
export type BrokerEvent =
  | { type: 'client'; client: ClientEvent }
  | { type: 'release-request'; reason: string; owner: boolean }
  | { type: 'revoked'; reason: string }
  | { type: 'withdrawn'; reason: string }
  | { type: 'reinstated' };

/** The events a `Broker` emits: what it did ('event') and what went wrong without stopping it ('warning'). */
export interface BrokerEvents {
  event: [e: BrokerEvent];
  warning: [w: ServerWarning];
}

/** How long an owner has to leave when asked (REQ) before the broker takes the device back, in ms. */
export const DEFAULT_BROKER_GRACE_MS = 5000;
/** Default limit of a client's DMA mappings at once. */
export const DEFAULT_BROKER_MAX_DMA_MAPS = 4096;
/** Default limit of a client's DMA bytes mapped at once (1 GiB): each is pinned memory. */
export const DEFAULT_BROKER_MAX_DMA_BYTES = 2 ** 30;

/** Serves one real device (bound to vfio-pci) over vfio-user to allowed, unprivileged clients, one owner at a time, undoing everything between owners (docs/broker.md). */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly device: BrokeredDevice;
  readonly server: VfioUserServer<BrokeredDevice>;
  readonly graceMs: number;
  readonly bdf: string | undefined;
  #monitor: DeviceMonitor | undefined;
  #revokeTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  private constructor(device: BrokeredDevice, server: VfioUserServer<BrokeredDevice>, options: BrokerOptions, bdf: string | undefined) {
    super();
    this.device = device;
    this.server = server;
    this.bdf = bdf;
    this.graceMs = options.graceMs ?? DEFAULT_BROKER_GRACE_MS;
    server.on('warning', (w) => this.#warn(w));
    server.on('client', (client) => this.#event({ type: 'client', client }));
    device.on('release-request', () => this.#withdraw('the device asked to be released (REQ)'));
    device.on('ready', () => this.#event({ type: 'reinstated' }));
  }

  /** Opens the device and listens on the socket. Throws what opening or listening threw. */
  static start(options: BrokerOptions): Broker {
    if ((options.bdf === undefined) === (options.open === undefined))
      throw fail('EINVAL', 'a broker needs exactly one of `bdf` and `open`');
    const bdf = options.bdf !== undefined ? normalizeBdf(options.bdf) : undefined;
    const open = options.open ?? (() => openKernelBackend(bdf!));
    const graceMs = options.graceMs ?? DEFAULT_BROKER_GRACE_MS;
    if (!Number.isFinite(graceMs) || graceMs < 0) throw fail('EINVAL', `grace period ${graceMs} ms is not a non-negative number`);
    if (options.mmap && !bdf) throw fail('EINVAL', "direct BAR mapping (mmap) needs a PCI address: it maps the BARs' sysfs resource files");
    const device = new BrokeredDevice({
      open,
      ...(bdf ? { name: bdf } : {}),
      ...(options.hide ? { hide: options.hide } : {}),
      ...(options.mmap && bdf ? { directBars: `/sys/bus/pci/devices/${bdf}` } : {}),
    });
    const gated = options.allowUids !== undefined || options.allowGids !== undefined;
    const serverOptions: VfioUserServerOptions = {
      socketMode: options.socketMode ?? (gated ? 0o666 : 0o600),
      allowUids: options.allowUids ?? (gated ? [] : [0]),
      maxDmaMaps: options.maxDmaMaps ?? DEFAULT_BROKER_MAX_DMA_MAPS,
      // Every MSI-X vector's eventfd in one SET_IRQS: kernels before 6.5 cannot grow an enabled MSI-X set.
      maxMsgFds: 253,
      maxDmaBytes: options.maxDmaBytes ?? DEFAULT_BROKER_MAX_DMA_BYTES,
      ...(options.allowGids ? { allowGids: options.allowGids } : {}),
      ...(options.maxDataXferSize !== undefined ? { maxDataXferSize: options.maxDataXferSize } : {}),
      lingerUs: options.lingerUs ?? SERVING_LINGER_US,
    };
    let server: VfioUserServer<BrokeredDevice>;
    try {
      server = VfioUserServer.listen(options.socket, device, serverOptions);
    } catch (err) {
      device.close();
      throw err;
    }
    const broker = new Broker(device, server, options, bdf);
    if (bdf && (options.monitor ?? true)) broker.#watch(bdf);
    return broker;
  }

  get socket(): string {
    return this.server.path!;
  }

  #event(e: BrokerEvent): void {
    if (this.listenerCount('event') > 0) this.emit('event', e);
  }

  #warn(w: ServerWarning): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', w);
  }

  #watch(bdf: string): void {
    let monitor: DeviceMonitor;
    try {
      monitor = DeviceMonitor.open({ bdf });
    } catch (cause) {
      this.#warn({ code: 'monitor-failed', message: `uevents cannot be read; only the device's REQ will announce an unplug`, cause });
      return;
    }
    monitor.unref();
    const gone = (e: PciDeviceEvent): void =>
      this.#withdraw(e.kind === 'removed' ? 'the device was removed' : 'the device was unbound from vfio-pci');
    monitor.on('removed', gone);
    monitor.on('unbound', gone);
    monitor.on('bound', (e: PciDeviceEvent) => {
      if (!e.isVfio) return;
      this.device.reinstate();
    });
    monitor.on('error', (cause: unknown) => this.#warn({ code: 'monitor-failed', message: 'the uevent monitor failed', cause }));
    this.#monitor = monitor;
  }

  /**
   * The device is going away: refuse new owners, ask the owner to leave
   * (REQ), and after the grace period take the device from it.
   */
  #withdraw(reason: string): void {
    if (this.#closing || this.device.state !== 'ready') return;
    const owner = this.server.owner !== undefined;
    this.#event({ type: 'release-request', reason, owner });
    this.device.withdraw();
    this.#event({ type: 'withdrawn', reason });
    if (!owner) return;
    this.device.requestRelease();
    this.#revokeTimer = setTimeout(() => {
      this.#revokeTimer = undefined;
      if (this.server.revokeOwner(`${reason}; the ${this.graceMs} ms grace period is over`)) this.#event({ type: 'revoked', reason });
    }, this.graceMs);
    this.#revokeTimer.unref();
  }

  /** Stops: REQ to the owner, `graceMs` (default the broker's) to leave, then everything closed. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      if (this.#revokeTimer) clearTimeout(this.#revokeTimer);
      this.#monitor?.close();
      await this.server.close({ graceMs: options.graceMs ?? this.graceMs });
      this.device.close();
    })();
    return this.#closing;
  }
}
