// The hotplug device monitor: PCI devices appearing, disappearing, and being
// bound to or unbound from drivers, as the kernel announces them over its
// uevent netlink socket (src/sys/netlink.ts).
//
// A kernel uevent datagram is "ACTION@DEVPATH\0KEY=VALUE\0KEY=VALUE\0...";
// udev's own rebroadcasts start with "libudev\0" and a binary header and are
// ignored (the socket only receives the kernel's anyway). parseUevent and
// pciEventOf are pure: tests feed them hand-built datagrams. DeviceMonitor
// reports PCI devices only (SUBSYSTEM=pci):
//
//   added    ACTION=add     a device appeared (hotplug, rescan)
//   removed  ACTION=remove  a device went away (surprise removal, sysfs remove)
//   bound    ACTION=bind    a driver took it; `driver` names it
//   unbound  ACTION=unbind  its driver let it go (the kernel no longer names
//                           the driver then: `driver` is null)
//
// Each event carries the BDF (PCI_SLOT_NAME), vendor and device IDs (PCI_ID)
// and `isVfio` (driver vfio-pci). Other actions (change, move, online...) and
// other subsystems are dropped; a malformed datagram is dropped, never thrown.

import { EventEmitter } from 'node:events';
import { UeventSocket, type UeventSocketOptions } from '../sys/netlink.js';
import { normalizeBdf } from './bdf.js';

/** One kernel uevent, as parsed. */
export interface Uevent {
  /** add, remove, bind, unbind, change, move, online, offline. */
  action: string;
  /** The device's path under /sys (e.g. /devices/pci0000:00/0000:00:04.0). */
  devpath: string;
  /** Its KEY=VALUE environment (ACTION, DEVPATH, SUBSYSTEM, SEQNUM, ...). */
  env: Record<string, string>;
}

/** The kinds of PCI event a monitor reports. */
export type PciEventKind = 'added' | 'removed' | 'bound' | 'unbound';

/** A PCI device event. */
export interface PciDeviceEvent {
  kind: PciEventKind;
  /** The kernel's action (add, remove, bind, unbind). */
  action: string;
  /** Full PCI address, e.g. 0000:00:04.0. */
  bdf: string;
  /** From PCI_ID ("1234:11E8"); null when the kernel did not say. */
  vendor: number | null;
  device: number | null;
  /** The driver (from DRIVER): set on `bound`, usually null otherwise. */
  driver: string | null;
  /** Whether that driver is vfio-pci. */
  isVfio: boolean;
  devpath: string;
  /** The kernel's uevent sequence number, null if absent. */
  seqnum: number | null;
}

const KINDS: Readonly<Record<string, PciEventKind>> = { add: 'added', remove: 'removed', bind: 'bound', unbind: 'unbound' };
const BDF_NAME = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Parses a kernel uevent datagram; null for udev's "libudev" messages and
 * for anything malformed (no "ACTION@DEVPATH" header, an ACTION or DEVPATH
 * that contradicts it). Never throws.
 */
export function parseUevent(datagram: Uint8Array): Uevent | null {
  if (!(datagram instanceof Uint8Array) || datagram.length === 0) return null;
  const fields = decoder.decode(datagram).split('\0');
  const header = fields[0]!;
  if (header === 'libudev') return null;
  const at = header.indexOf('@');
  if (at <= 0 || at === header.length - 1) return null;
  const action = header.slice(0, at);
  const devpath = header.slice(at + 1);
  if (!devpath.startsWith('/')) return null;
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 1; i < fields.length; i++) {
    const f = fields[i]!;
    if (f === '') continue;
    const eq = f.indexOf('=');
    if (eq <= 0) continue; // not KEY=VALUE: skip the field, keep the rest
    env[f.slice(0, eq)] = f.slice(eq + 1);
  }
  if (env.ACTION !== undefined && env.ACTION !== action) return null;
  if (env.DEVPATH !== undefined && env.DEVPATH !== devpath) return null;
  return { action, devpath, env };
}

/** The PCI device event a uevent stands for, or null (not PCI, not one of the four actions, no BDF). */
export function pciEventOf(u: Uevent): PciDeviceEvent | null {
  if (u.env.SUBSYSTEM !== 'pci') return null;
  const kind = KINDS[u.action];
  if (kind === undefined) return null;
  let bdf = u.env.PCI_SLOT_NAME ?? u.devpath.slice(u.devpath.lastIndexOf('/') + 1);
  if (!BDF_NAME.test(bdf)) return null;
  bdf = bdf.toLowerCase();
  let vendor: number | null = null;
  let device: number | null = null;
  const id = /^([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(u.env.PCI_ID ?? '');
  if (id) {
    vendor = parseInt(id[1]!, 16);
    device = parseInt(id[2]!, 16);
  }
  const driver = u.env.DRIVER || null;
  const seq = Number(u.env.SEQNUM);
  return {
    kind,
    action: u.action,
    bdf,
    vendor,
    device,
    driver,
    isVfio: driver === 'vfio-pci',
    devpath: u.devpath,
    seqnum: u.env.SEQNUM !== undefined && Number.isSafeInteger(seq) ? seq : null,
  };
}

/** parseUevent then pciEventOf: a datagram's PCI event, or null. */
export function parsePciEvent(datagram: Uint8Array): PciDeviceEvent | null {
  const u = parseUevent(datagram);
  return u === null ? null : pciEventOf(u);
}

/** Which devices a `DeviceMonitor` watches, and whether it keeps the process alive. */
export interface DeviceMonitorOptions extends UeventSocketOptions {
  /** Only these devices (any BDF form parseBdf accepts); default all. */
  bdf?: string | readonly string[];
  /** Whether the monitor keeps the process alive (default true). */
  ref?: boolean;
}

/** The events a `DeviceMonitor` emits, one per kind of PCI event. */
export interface DeviceMonitorEvents {
  added: [PciDeviceEvent];
  removed: [PciDeviceEvent];
  bound: [PciDeviceEvent];
  unbound: [PciDeviceEvent];
  /** Every reported event, whatever its kind. */
  event: [PciDeviceEvent];
  /** A failing receive: ENOBUFS means events were lost. Without a listener it is thrown. */
  error: [Error];
}

/**
 * Reports PCI device events from the kernel's uevents. Opened with
 * DeviceMonitor.open() (a UeventSocket watched on the event loop); a monitor
 * made with `new DeviceMonitor(null, ...)` only reports what is fed to it.
 */
export class DeviceMonitor extends EventEmitter<DeviceMonitorEvents> {
  readonly #filter: ReadonlySet<string> | null;
  #socket: UeventSocket | null;

  constructor(socket: UeventSocket | null, options: DeviceMonitorOptions = {}) {
    super();
    const wanted = options.bdf === undefined ? null : typeof options.bdf === 'string' ? [options.bdf] : options.bdf;
    this.#filter = wanted === null ? null : new Set(wanted.map((b) => normalizeBdf(b)));
    this.#socket = socket;
    if (socket) {
      socket.watch(
        (d) => this.feed(d),
        (e) => this.emit('error', e),
      );
      if (options.ref === false) socket.unref();
    }
  }

  /** Opens the uevent socket and starts reporting. */
  static open(options: DeviceMonitorOptions = {}): DeviceMonitor {
    const socket = UeventSocket.open(options.receiveBuffer === undefined ? {} : { receiveBuffer: options.receiveBuffer });
    try {
      return new DeviceMonitor(socket, options);
    } catch (e) {
      socket.close();
      throw e;
    }
  }

  /** The BDFs reported (normalised), or null for all. */
  get filter(): ReadonlySet<string> | null {
    return this.#filter;
  }

  get closed(): boolean {
    return this.#socket === null;
  }

  /** Handles one datagram; returns the event it reported, or null. */
  feed(datagram: Uint8Array): PciDeviceEvent | null {
    const ev = parsePciEvent(datagram);
    if (ev === null || (this.#filter !== null && !this.#filter.has(ev.bdf))) return null;
    this.emit(ev.kind, ev);
    this.emit('event', ev);
    return ev;
  }

  /**
   * The next event of `kind` (optionally for one BDF), or a rejection after
   * timeoutMs (default 10 s) with code ETIMEDOUT.
   */
  next(kind: PciEventKind, options: { bdf?: string; timeoutMs?: number } = {}): Promise<PciDeviceEvent> {
    const bdf = options.bdf === undefined ? undefined : normalizeBdf(options.bdf);
    return new Promise((resolve, reject) => {
      const on = (ev: PciDeviceEvent): void => {
        if (bdf !== undefined && ev.bdf !== bdf) return;
        clearTimeout(timer);
        this.off(kind, on);
        resolve(ev);
      };
      const timer = setTimeout(() => {
        this.off(kind, on);
        reject(
          Object.assign(new Error(`no '${kind}' event${bdf ? ` for ${bdf}` : ''} within ${options.timeoutMs ?? 10_000} ms`), {
            code: 'ETIMEDOUT',
          }),
        );
      }, options.timeoutMs ?? 10_000);
      this.on(kind, on);
    });
  }

  ref(): this {
    this.#socket?.ref();
    return this;
  }

  unref(): this {
    this.#socket?.unref();
    return this;
  }

  /** Stops reporting and closes the socket; idempotent. */
  close(): void {
    const s = this.#socket;
    this.#socket = null;
    s?.close();
  }
}
