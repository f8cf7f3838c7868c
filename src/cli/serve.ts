// `vfio-ts serve <model> --socket PATH`: serve a device model over vfio-user
// until SIGINT/SIGTERM/SIGHUP, logging each client. On a signal the owner (if
// any) is asked to release the device (REQ) and given a grace period, then
// the socket file is removed; a second signal ends the grace period at once.
// A trace socket `<socket>.trace` (same mode, owner and allow-list) streams
// decoded traffic to `vfio-ts trace` (trace-server.ts).

import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { SERVING_LINGER_US, VfioUserServer, type VfioUserServerOptions } from '../server/index.js';
import type { DeviceModel } from '../server/model.js';
import { EduModel } from '../devices/edu.js';
import { NvmeModel } from '../devices/nvme/index.js';
import { VfioTsError } from '../errors.js';
import { planBacking, type BackingRequest } from './backing.js';
import { onStopSignals, signalExitCode } from './signals.js';
import { TraceServer } from './trace-server.js';
import { UsageError } from './usage.js';

export type ModelOptions = BackingRequest;

/** The device models `serve` knows, by name. */
export const MODELS: Record<
  string,
  { describe: string; create: (o: ModelOptions, log: (l: string) => void) => Promise<DeviceModel> | DeviceModel }
> = {
  edu: {
    describe: "QEMU's edu teaching device (factorial, DMA engine, INTx/MSI)",
    create: (o) => {
      const given = (['backing', 'size', 'resize'] as const).filter((k) => o[k] !== undefined);
      if (given.length) throw new UsageError(`serve edu: --${given[0]} is for the nvme model only`);
      return new EduModel();
    },
  },
  nvme: {
    describe: 'an NVMe 1.4 controller with one namespace in memory, or in --backing FILE (--size bytes)',
    create: (o, log) => {
      const plan = planBacking(o);
      plan.apply();
      const model = new NvmeModel({ namespaces: [{ size: plan.size, ...(plan.file !== undefined ? { file: plan.file } : {}) }] });
      log(plan.report);
      return model;
    },
  },
};

export interface ServeOptions extends VfioUserServerOptions {
  log?: (line: string) => void;
  graceMs?: number;
  /** Listen on `<socket>.trace` for `vfio-ts trace` (default true). */
  trace?: boolean;
}

function listen(socketPath: string, model: DeviceModel, options: VfioUserServerOptions): VfioUserServer {
  try {
    return VfioUserServer.listen(socketPath, model, options);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' && !existsSync(dirname(socketPath))) {
      throw new VfioTsError('ENOENT', `cannot create the socket ${socketPath}: the folder ${dirname(socketPath)} does not exist`, {
        cause: err,
      });
    }
    if (code === 'EACCES')
      throw new VfioTsError('EACCES', `cannot create the socket ${socketPath}: permission denied in ${dirname(socketPath)}`, {
        cause: err,
      });
    if (code === 'EADDRINUSE')
      throw new VfioTsError('EADDRINUSE', `cannot create the socket ${socketPath}: a server is already listening there`, { cause: err });
    throw err;
  }
}

export async function serve(
  modelName: string,
  socketPath: string,
  modelOptions: ModelOptions,
  options: ServeOptions = {},
): Promise<VfioUserServer> {
  const entry = MODELS[modelName];
  if (!entry) throw new UsageError(`unknown device model '${modelName}' (known: ${Object.keys(MODELS).join(', ')})`);
  const log = options.log ?? ((l: string) => console.error(l));
  // The handlers come first: a signal before them would kill the process with its sockets on disk.
  let server: VfioUserServer | undefined;
  let tracer: TraceServer | undefined;
  onStopSignals(
    (signal) => {
      if (!server) process.exit(signalExitCode(signal)); // nothing created yet
      log(`${signal}: asking the owner to release the device, then closing (another signal: at once)`);
      void server.close({ graceMs: options.graceMs ?? 2000 }).then(() => {
        tracer?.close();
        process.exit(0);
      });
    },
    (signal) => {
      // The device socket went with the first signal; the trace socket goes now.
      tracer?.close();
      log(`${signal}: closing at once`);
      process.exit(signalExitCode(signal));
    },
  );
  const model = await entry.create(modelOptions, log);
  server = listen(socketPath, model, { ...options, lingerUs: options.lingerUs ?? SERVING_LINGER_US });
  server.on('client', (e: { type: string; id?: number; pid: number; uid: number; reason?: string }) => {
    log(`client${e.id !== undefined ? ` #${e.id}` : ''} pid ${e.pid} uid ${e.uid}: ${e.type}${e.reason ? ` (${e.reason})` : ''}`);
  });
  if (options.trace ?? true) {
    try {
      tracer = new TraceServer(server, socketPath, {
        model: modelName,
        ...(options.allowUids ? { allowUids: options.allowUids } : {}),
        ...(options.allowGids ? { allowGids: options.allowGids } : {}),
      });
    } catch (err) {
      log(`no trace socket: ${(err as Error).message}`);
    }
  }
  log(`serving ${modelName} on ${socketPath}${tracer ? ` (trace: ${tracer.path})` : ''}`);
  return server;
}
