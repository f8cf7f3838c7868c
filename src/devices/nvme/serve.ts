// Serving the NVMe model model over vfio-user on a UNIX socket.

import { VfioUserServer, type VfioUserServerOptions } from '../../server/index.js';
import { NvmeModel, type NvmeModelOptions } from './model.js';

/** Options of `serveNvme`: the model's and the server's. */
export interface ServeNvmeOptions extends NvmeModelOptions {
  server?: VfioUserServerOptions;
}

/** What `serveNvme` returns: the model, its server, and one call to stop both. */
export interface NvmeServer {
  model: NvmeModel;
  server: VfioUserServer;
  /** Stops the server and releases the namespaces. */
  close(): Promise<void>;
}

/** Creates an NVMe model model and serves it at `path`. */
export function serveNvme(path: string, options: ServeNvmeOptions = {}): NvmeServer {
  const model = new NvmeModel(options);
  let server: VfioUserServer;
  try {
    server = VfioUserServer.listen(path, model, options.server);
  } catch (err) {
    model.close();
    throw err;
  }
  return {
    model,
    server,
    async close() {
      await server.close();
      model.close();
    },
  };
}
