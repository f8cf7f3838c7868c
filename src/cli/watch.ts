// `vfio-ts watch [BDF] [--json]`: the PCI devices there are now (from sysfs:
// address, ids, driver), then devices added, removed, bound and unbound,
// live, one line each, from the kernel's uevents (src/kernel/monitor.ts).
// Needs no privilege. Ends (exit 0) when the signal aborts (Ctrl-C).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceMonitor, type PciDeviceEvent, type PciEventKind } from '../kernel/monitor.js';
import { deviceIds, driverOf, isVfioDriver, resolvePaths, type VfioPaths } from '../kernel/sysfs.js';
import { hexDigits } from '../util/format.js';

export interface WatchOptions {
  json?: boolean;
  signal?: AbortSignal;
  /** Where lines go (default process.stdout). */
  write?: (line: string) => void;
  /** Where sysfs is (tests: a fake tree). */
  paths?: Partial<VfioPaths>;
}

/** A line of the output: a live event, or a device that was there when watching began. */
export type WatchEntry = Pick<PciDeviceEvent, 'bdf' | 'vendor' | 'device' | 'driver' | 'isVfio' | 'seqnum'> & {
  kind: PciEventKind | 'present';
};

const hex4 = (n: number | null): string => (n === null ? '????' : hexDigits(n, 4));

/** One entry as a text line: time, kind, BDF, vendor:device, driver. */
export function formatEvent(ev: WatchEntry, time = new Date()): string {
  const driver = ev.driver === null ? '' : ` driver ${ev.driver}${ev.isVfio ? ' (vfio)' : ''}`;
  return `${time.toISOString()} ${ev.kind.padEnd(7)} ${ev.bdf} ${hex4(ev.vendor)}:${hex4(ev.device)}${driver}`;
}

/** One entry as a JSON line. */
export function formatEventJson(ev: WatchEntry, time = new Date()): string {
  return JSON.stringify({
    time: time.toISOString(),
    event: ev.kind,
    bdf: ev.bdf,
    vendor: ev.vendor === null ? null : hex4(ev.vendor),
    device: ev.device === null ? null : hex4(ev.device),
    driver: ev.driver,
    isVfio: ev.isVfio,
    seqnum: ev.seqnum,
  });
}

/** The PCI devices sysfs lists now (only those in `filter` when given), by address. */
export function presentDevices(paths: VfioPaths, filter: ReadonlySet<string> | null): WatchEntry[] {
  let names: string[];
  try {
    names = readdirSync(join(paths.sys, 'bus', 'pci', 'devices')).sort();
  } catch {
    return []; // no PCI bus (a container without /sys): live events only
  }
  return names
    .filter((bdf) => filter === null || filter.has(bdf))
    .map((bdf) => {
      const ids = deviceIds(paths, bdf);
      const num = (s: string | undefined): number | null => (s === undefined || !/^0x[0-9a-f]+$/i.test(s) ? null : parseInt(s, 16));
      const driver = driverOf(paths, bdf);
      return {
        kind: 'present',
        bdf,
        vendor: num(ids?.vendor),
        device: num(ids?.device),
        driver,
        isVfio: isVfioDriver(driver),
        seqnum: null,
      };
    });
}

export function watch(bdf: string | undefined, options: WatchOptions = {}): Promise<number> {
  const write = options.write ?? ((line: string) => void process.stdout.write(line + '\n'));
  const line = (e: WatchEntry): void => write(options.json ? formatEventJson(e) : formatEvent(e));
  // Listening first, then the snapshot: an event in between is shown, never lost.
  const monitor = DeviceMonitor.open(bdf === undefined ? {} : { bdf });
  monitor.on('error', (e) => console.error(`vfio-ts watch: ${e.message} (some events were lost)`));
  console.error(
    `vfio-ts watch: the devices there are now, then PCI device events${bdf === undefined ? '' : ` of ${[...monitor.filter!][0]}`} (Ctrl-C ends)`,
  );
  for (const e of presentDevices(resolvePaths(options.paths), monitor.filter)) line(e);
  monitor.on('event', line);
  return new Promise((resolve) => {
    const stop = (): void => {
      monitor.close();
      resolve(0);
    };
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
}
