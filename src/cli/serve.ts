// `vfio-ts serve <model> --socket PATH`: serve a device model over vfio-user
// until SIGINT/SIGTERM, logging each client. On a signal the owner (if any)
// is asked to release the device (REQ) and given a grace period, then the
// socket file is removed. A trace socket `<socket>.trace` (same mode, owner
// and allow-list) streams decoded traffic to `vfio-ts trace` (trace-server.ts).

import { SERVING_LINGER_US, VfioUserServer, type VfioUserServerOptions } from '../server/index.js';
import type { DeviceModel } from '../server/model.js';
import { EduModel } from '../devices/edu.js';
import { NvmeModel } from '../devices/nvme/index.js';
import { TraceServer } from './trace-server.js';

export interface ModelOptions {
  backing?: string;
  size?: number;
}

/** The device models `serve` knows, by name. */
export const MODELS: Record<string, { describe: string; create: (o: ModelOptions) => Promise<DeviceModel> | DeviceModel }> = {
  edu: { describe: "QEMU's edu teaching device (factorial, DMA engine, INTx/MSI)", create: () => new EduModel() },
  nvme: {
    describe: 'an NVMe 1.4 controller with one namespace in memory, or in --backing FILE (--size bytes)',
    create: (o) =>
      new NvmeModel({
        namespaces: [{ ...(o.size !== undefined ? { size: o.size } : {}), ...(o.backing !== undefined ? { file: o.backing } : {}) }],
      }),
  },
};

export interface ServeOptions extends VfioUserServerOptions {
  log?: (line: string) => void;
  graceMs?: number;
  /** Listen on `<socket>.trace` for `vfio-ts trace` (default true). */
  trace?: boolean;
}

export async function serve(modelName: string, socketPath: string, modelOptions: ModelOptions, options: ServeOptions = {}): Promise<VfioUserServer> {
  const entry = MODELS[modelName];
  if (!entry) throw new Error(`unknown device model '${modelName}' (known: ${Object.keys(MODELS).join(', ')})`);
  const log = options.log ?? ((l: string) => console.error(l));
  const model = await entry.create(modelOptions);
  const server = VfioUserServer.listen(socketPath, model, { ...options, lingerUs: options.lingerUs ?? SERVING_LINGER_US });
  server.on('client', (e: { type: string; id?: number; pid: number; uid: number; reason?: string }) => {
    log(`client${e.id !== undefined ? ` #${e.id}` : ''} pid ${e.pid} uid ${e.uid}: ${e.type}${e.reason ? ` (${e.reason})` : ''}`);
  });
  let tracer: TraceServer | undefined;
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
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: asking the owner to release the device, then closing`);
    void server.close({ graceMs: options.graceMs ?? 2000 }).then(() => {
      tracer?.close();
      process.exit(0);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return server;
}
