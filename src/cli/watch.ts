// `vfio-ts watch [BDF] [--json]`: PCI devices added, removed, bound and
// unbound, live, one line each, from the kernel's uevents
// (src/vfio/monitor.ts). Needs no privilege. Ends (exit 0) when the signal
// aborts (Ctrl-C).

import { DeviceMonitor, type PciDeviceEvent } from '../kernel/monitor.js';

export interface WatchOptions {
  json?: boolean;
  signal?: AbortSignal;
  /** Where lines go (default process.stdout). */
  write?: (line: string) => void;
}

const hex4 = (n: number | null): string => (n === null ? '????' : n.toString(16).padStart(4, '0'));

/** One event as a text line: time, kind, BDF, vendor:device, driver. */
export function formatEvent(ev: PciDeviceEvent, time = new Date()): string {
  const driver = ev.driver === null ? '' : ` driver ${ev.driver}${ev.isVfio ? ' (vfio)' : ''}`;
  return `${time.toISOString()} ${ev.kind.padEnd(7)} ${ev.bdf} ${hex4(ev.vendor)}:${hex4(ev.device)}${driver}`;
}

/** One event as a JSON line. */
export function formatEventJson(ev: PciDeviceEvent, time = new Date()): string {
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

export function watch(bdf: string | undefined, options: WatchOptions = {}): Promise<number> {
  const write = options.write ?? ((line: string) => void process.stdout.write(line + '\n'));
  const monitor = DeviceMonitor.open(bdf === undefined ? {} : { bdf });
  monitor.on('event', (ev) => write(options.json ? formatEventJson(ev) : formatEvent(ev)));
  monitor.on('error', (e) => console.error(`vfio-ts watch: ${e.message} (some events were lost)`));
  console.error(`vfio-ts watch: PCI device events${bdf === undefined ? '' : ` of ${[...monitor.filter!][0]}`} (Ctrl-C ends)`);
  return new Promise((resolve) => {
    const stop = (): void => {
      monitor.close();
      resolve(0);
    };
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
}
