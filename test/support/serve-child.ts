// Child-process entry: serves one device model over vfio-user.
//
// The Driver API's region accesses are synchronous (an MMIO load blocks until
// the reply), so a test's client and the server it talks to cannot share an
// event loop: the server runs here, in a child. argv: the model module's
// URL, the exported class or factory name, the socket path, and a JSON object
// of server options. It answers 'ready' (or the error) over the IPC channel
// and exits when the parent disconnects or sends 'stop'.

import { VfioUserServer } from '../../src/server/index.js';
import type { DeviceModel } from '../../src/server/model.js';

const [moduleUrl, exportName, socketPath, optionsJson] = process.argv.slice(2);

async function main(): Promise<void> {
  const mod = (await import(moduleUrl!)) as Record<string, unknown>;
  const make = mod[exportName!] as (new (o?: unknown) => DeviceModel) | undefined;
  if (typeof make !== 'function') throw new Error(`${moduleUrl} has no export ${exportName}`);
  const opts = JSON.parse(optionsJson ?? '{}') as { model?: unknown; server?: Record<string, unknown> };
  const model = new make(opts.model);
  const server = VfioUserServer.listen(socketPath!, model, opts.server ?? {});
  server.on('client', (e: { type: string }) => {
    if (process.connected) process.send?.({ event: 'client', type: e.type });
  });
  const stop = (): void => {
    void server.close().finally(() => process.exit(0));
  };
  process.on('message', (m) => {
    if (m === 'stop') stop();
  });
  process.on('disconnect', stop);
  process.send?.({ ready: true });
}

main().catch((err: Error) => {
  process.send?.({ error: err.stack ?? String(err) });
  process.exit(1);
});
