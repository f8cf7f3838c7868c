// `vfio-ts broker`: serve real devices to unprivileged users.
//
//   vfio-ts broker <BDF> --socket PATH [--allow-uid UID ...] [--allow-gid GID ...]
//   vfio-ts broker --upstream SOCKET --socket PATH ...   (a vfio-user device instead of a BDF)
//   vfio-ts broker --config FILE                         (several devices)
//
// The config file is JSON: {"devices": [{"bdf": "0000:00:04.0", "socket":
// "/run/vfio-ts/edu.sock", "allowUids": [1000], "allowGids": [], "graceMs":
// 5000, "maxDmaMaps": 4096, "maxDmaBytes": 1073741824, "socketMode": "0666", "mmap": false}]}
// (or "upstream" in place of "bdf"). Every device is opened before any socket
// is offered; one that cannot be opened stops the broker with the reason.
// Runs until SIGINT/SIGTERM/SIGHUP: owners get a REQ and the grace period, then the
// devices go back to the kernel. Events are printed one per line (JSON lines
// with --json).

import { readFileSync } from 'node:fs';
import { Broker, type BrokerEvent, type BrokerOptions } from '../broker/index.js';
import { VfioUserBackend } from '../client/vfio-user/backend.js';
import { fail } from '../errors.js';
import type { ServerWarning } from '../server/errors.js';
import { onStopSignals, signalExitCode } from './signals.js';

/** One device of a broker configuration. */
export interface BrokerDeviceConfig {
  bdf?: string;
  upstream?: string;
  socket: string;
  allowUids?: number[];
  allowGids?: number[];
  socketMode?: number;
  graceMs?: number;
  maxDmaMaps?: number;
  maxDmaBytes?: number;
  mmap?: boolean;
  lingerUs?: number;
}

const KEYS = new Set([
  'bdf',
  'upstream',
  'socket',
  'allowUids',
  'allowGids',
  'socketMode',
  'graceMs',
  'maxDmaMaps',
  'maxDmaBytes',
  'mmap',
  'lingerUs',
]);

/** The server's lingering time, 0..1000000 us. */
export function lingerUs(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 1_000_000)
    throw fail('EINVAL', `${where}: microseconds in 0..1000000`);
  return v as number;
}

function idList(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
    throw fail('EINVAL', `${where}: a list of non-negative integer ids`);
  }
  return v as number[];
}

function count(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw fail('EINVAL', `${where}: a non-negative integer`);
  return v as number;
}

/** Parses and checks a broker configuration file's text. */
export function parseBrokerConfig(text: string): BrokerDeviceConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail('EINVAL', `the broker configuration is not JSON: ${(err as Error).message}`);
  }
  const devices = (doc as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices) || devices.length === 0) throw fail('EINVAL', 'the broker configuration needs a non-empty "devices" list');
  const sockets = new Set<string>();
  return devices.map((d: unknown, i) => {
    const where = `devices[${i}]`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw fail('EINVAL', `${where} is not an object`);
    const o = d as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!KEYS.has(k)) throw fail('EINVAL', `${where}: unknown key "${k}" (known: ${[...KEYS].join(', ')})`);
    if ((o.bdf === undefined) === (o.upstream === undefined)) throw fail('EINVAL', `${where}: exactly one of "bdf" and "upstream"`);
    if (o.bdf !== undefined && typeof o.bdf !== 'string') throw fail('EINVAL', `${where}.bdf: a PCI address string`);
    if (o.upstream !== undefined && typeof o.upstream !== 'string') throw fail('EINVAL', `${where}.upstream: a socket path string`);
    if (typeof o.socket !== 'string' || o.socket === '') throw fail('EINVAL', `${where}.socket: a socket path string`);
    if (sockets.has(o.socket)) throw fail('EINVAL', `${where}.socket: ${o.socket} is used twice`);
    sockets.add(o.socket);
    const c: BrokerDeviceConfig = { socket: o.socket };
    if (o.bdf !== undefined) c.bdf = o.bdf as string;
    if (o.upstream !== undefined) c.upstream = o.upstream as string;
    if (o.allowUids !== undefined) c.allowUids = idList(o.allowUids, `${where}.allowUids`);
    if (o.allowGids !== undefined) c.allowGids = idList(o.allowGids, `${where}.allowGids`);
    if (o.socketMode !== undefined) {
      if (typeof o.socketMode !== 'string' || !/^0?[0-7]{3}$/.test(o.socketMode))
        throw fail('EINVAL', `${where}.socketMode: an octal string like "0660"`);
      c.socketMode = parseInt(o.socketMode, 8);
    }
    if (o.graceMs !== undefined) c.graceMs = count(o.graceMs, `${where}.graceMs`);
    if (o.maxDmaMaps !== undefined) c.maxDmaMaps = count(o.maxDmaMaps, `${where}.maxDmaMaps`);
    if (o.maxDmaBytes !== undefined) c.maxDmaBytes = count(o.maxDmaBytes, `${where}.maxDmaBytes`);
    if (o.lingerUs !== undefined) c.lingerUs = lingerUs(o.lingerUs, `${where}.lingerUs`);
    if (o.mmap !== undefined) {
      if (typeof o.mmap !== 'boolean') throw fail('EINVAL', `${where}.mmap: true or false`);
      if (o.mmap && o.bdf === undefined) throw fail('EINVAL', `${where}.mmap: direct mapping needs "bdf"`);
      c.mmap = o.mmap;
    }
    return c;
  });
}

export function brokerOptions(c: BrokerDeviceConfig): BrokerOptions {
  const o: BrokerOptions = { socket: c.socket };
  if (c.bdf !== undefined) o.bdf = c.bdf;
  if (c.upstream !== undefined) {
    const upstream = c.upstream;
    o.open = () => VfioUserBackend.connect(upstream);
  }
  if (c.allowUids) o.allowUids = c.allowUids;
  if (c.allowGids) o.allowGids = c.allowGids;
  if (c.socketMode !== undefined) o.socketMode = c.socketMode;
  if (c.graceMs !== undefined) o.graceMs = c.graceMs;
  if (c.maxDmaMaps !== undefined) o.maxDmaMaps = c.maxDmaMaps;
  if (c.maxDmaBytes !== undefined) o.maxDmaBytes = c.maxDmaBytes;
  if (c.mmap !== undefined) o.mmap = c.mmap;
  if (c.lingerUs !== undefined) o.lingerUs = c.lingerUs;
  return o;
}

function describe(e: BrokerEvent): string {
  switch (e.type) {
    case 'client': {
      const c = e.client;
      return `client${c.id !== undefined ? ` #${c.id}` : ''} pid ${c.pid} uid ${c.uid} gid ${c.gid}: ${c.type}${c.reason ? ` (${c.reason})` : ''}`;
    }
    case 'release-request':
      return `release requested: ${e.reason}${e.owner ? '; the owner is asked to leave (REQ)' : ''}`;
    case 'withdrawn':
      return `withdrawn (${e.reason}); clients are refused until the device is bound to vfio-pci again`;
    case 'revoked':
      return `the owner did not leave in time and was disconnected (${e.reason})`;
    case 'reinstated':
      return 'the device is back and open for clients';
  }
}

export interface RunBrokerOptions {
  json?: boolean;
  /** Output line sink (default stdout). */
  out?: (line: string) => void;
}

/** Starts a broker per device (all or none) and logs what they do until a signal stops them. */
export function runBroker(configs: BrokerDeviceConfig[], options: RunBrokerOptions = {}): Broker[] {
  const out = options.out ?? ((l: string) => console.log(l));
  const brokers: Broker[] = [];
  try {
    for (const c of configs) brokers.push(Broker.start(brokerOptions(c)));
  } catch (err) {
    for (const b of brokers) void b.close({ graceMs: 0 });
    throw err;
  }
  for (const [i, b] of brokers.entries()) {
    const c = configs[i]!;
    const device = c.bdf ?? `upstream ${c.upstream}`;
    const emit = (event: string, fields: Record<string, unknown>, text: string): void => {
      out(options.json ? JSON.stringify({ event, device, socket: c.socket, ...fields }) : `${device}: ${text}`);
    };
    b.on('event', (e: BrokerEvent) => {
      const { type, ...rest } = e;
      emit(type, rest as Record<string, unknown>, describe(e));
    });
    b.on('warning', (w: ServerWarning) => emit('warning', { code: w.code, message: w.message }, `warning: ${w.message}`));
    const who = [...(c.allowUids ?? []).map((u) => `uid ${u}`), ...(c.allowGids ?? []).map((g) => `gid ${g}`)];
    emit(
      'ready',
      { allowUids: c.allowUids ?? [], allowGids: c.allowGids ?? [] },
      `serving on ${c.socket} to ${who.length ? who.join(', ') : 'root only'} (grace ${b.graceMs} ms${c.mmap ? ', BARs mappable' : ''})`,
    );
  }
  onStopSignals(
    (signal) => {
      out(
        options.json
          ? JSON.stringify({ event: 'stopping', signal })
          : `${signal}: asking owners to release their devices, then closing (another signal: at once)`,
      );
      void Promise.all(brokers.map((b) => b.close())).then(() => process.exit(0));
    },
    (signal) => {
      // The grace period cut short: the sockets went with the first signal; exiting closes the devices and the owners' connections.
      out(options.json ? JSON.stringify({ event: 'stopping', signal, now: true }) : `${signal}: closing at once`);
      process.exit(signalExitCode(signal));
    },
  );
  return brokers;
}

/** The configuration a command line describes (or the config file it names). */
export function brokerConfigFromArgs(a: {
  bdf?: string | undefined;
  config?: string | undefined;
  upstream?: string | undefined;
  socket?: string | undefined;
  allowUids?: number[] | undefined;
  allowGids?: number[] | undefined;
  socketMode?: number | undefined;
  graceMs?: number | undefined;
  maxDmaMaps?: number | undefined;
  maxDmaBytes?: number | undefined;
  mmap?: boolean | undefined;
  lingerUs?: number | undefined;
}): BrokerDeviceConfig[] {
  if (a.config !== undefined) {
    if (a.bdf !== undefined || a.upstream !== undefined || a.socket !== undefined) {
      throw fail('EINVAL', '--config names every device and socket itself: no BDF, --upstream or --socket with it');
    }
    let text: string;
    try {
      text = readFileSync(a.config, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw fail(
        'EINVAL',
        `--config ${a.config}: cannot read it (${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'a folder' : (e.code ?? e.message)})`,
      );
    }
    return parseBrokerConfig(text);
  }
  if ((a.bdf === undefined) === (a.upstream === undefined))
    throw fail('EINVAL', 'broker needs a PCI address or --upstream SOCKET (or --config FILE)');
  if (a.socket === undefined) throw fail('EINVAL', 'broker needs --socket PATH');
  const c: BrokerDeviceConfig = { socket: a.socket };
  if (a.bdf !== undefined) c.bdf = a.bdf;
  if (a.upstream !== undefined) c.upstream = a.upstream;
  if (a.allowUids) c.allowUids = a.allowUids;
  if (a.allowGids) c.allowGids = a.allowGids;
  if (a.socketMode !== undefined) c.socketMode = a.socketMode;
  if (a.graceMs !== undefined) c.graceMs = a.graceMs;
  if (a.maxDmaMaps !== undefined) c.maxDmaMaps = a.maxDmaMaps;
  if (a.maxDmaBytes !== undefined) c.maxDmaBytes = a.maxDmaBytes;
  if (a.lingerUs !== undefined) c.lingerUs = lingerUs(a.lingerUs, '--linger-us');
  if (a.mmap) {
    if (a.bdf === undefined) throw fail('EINVAL', "--mmap needs a PCI address (it maps the BARs' sysfs resource files)");
    c.mmap = true;
  }
  return [c];
}
