// Serving the NVMe controller model over vfio-user on a UNIX socket.

import { VfioUserServer, type VfioUserServerOptions } from '../../server/index.js';
import { NvmeController, type NvmeControllerOptions } from './controller.js';

export interface ServeNvmeOptions extends NvmeControllerOptions {
  server?: VfioUserServerOptions;
}

export interface NvmeServer {
  controller: NvmeController;
  server: VfioUserServer;
  /** Stops the server and releases the namespaces. */
  close(): Promise<void>;
}

/** Creates an NVMe controller model and serves it at `path`. */
export function serveNvme(path: string, options: ServeNvmeOptions = {}): NvmeServer {
  const controller = new NvmeController(options);
  let server: VfioUserServer;
  try {
    server = VfioUserServer.listen(path, controller, options.server);
  } catch (err) {
    controller.close();
    throw err;
  }
  return {
    controller,
    server,
    async close() {
      await server.close();
      controller.close();
    },
  };
}
