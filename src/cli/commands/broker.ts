// `vfio-ts broker`: the grammar; broker.ts checks the configuration and runs the brokers.

import { brokerConfigFromArgs, runBroker, type BrokerDeviceConfig } from '../broker.js';
import * as opt from '../options.js';
import { UsageError, type Subcommand } from '../usage.js';

export const brokerCommand: Subcommand = {
  name: 'broker',
  summary: 'broker <BDF> --socket PATH [options]    (root) serve a real device (bound to vfio-pci) to unprivileged users',
  help: `usage: vfio-ts broker <BDF> --socket PATH [options]
       vfio-ts broker --upstream SOCKET --socket PATH [options]
       vfio-ts broker --config FILE [--json]

(root) Holds a device bound to vfio-pci (or a vfio-user device: --upstream) and serves it
to the allowed users, one at a time, until SIGINT, SIGTERM or SIGHUP (REQ to the owner,
the grace period, then exit 0; a second signal: at once). --config: several devices from
a JSON file (docs/broker.md).

options:
  --socket PATH          the socket to serve on
  --allow-uid USER       let this user connect (a name or uid; repeatable)
  --allow-gid GROUP      let this group connect (a name or gid; repeatable)
  --mode OCTAL           the socket's permission bits, 000..777 (default 0600, 0666 with an allow-list)
  --grace-ms N           how long an owner has to leave when asked (default 5000)
  --max-dma-maps N       DMA mappings per client
  --max-dma-bytes BYTES  DMA bytes per client (K/M/G/T suffixes)
  --linger-us N          0..1000000 (default 1000)
  --mmap                 offer memory BARs for direct mapping (needs a BDF)
  --json                 JSON lines`,
  options: {
    socket: { type: 'string' },
    config: { type: 'string' },
    upstream: { type: 'string' },
    'allow-uid': { type: 'string', multiple: true },
    'allow-gid': { type: 'string', multiple: true },
    mode: { type: 'string' },
    'grace-ms': { type: 'string' },
    'max-dma-maps': { type: 'string' },
    'max-dma-bytes': { type: 'string' },
    mmap: { type: 'boolean' },
    json: { type: 'boolean' },
    'linger-us': { type: 'string' },
  },
  positionals: { names: ['<BDF>'], required: 0 },
  async run({ values: v, positionals: [bdf] }) {
    const str = (k: string): string | undefined => v[k] as string | undefined;
    const num = (k: string, parse: (t: string, o: string) => number = opt.integer): number | undefined => {
      const t = str(k);
      return t === undefined ? undefined : parse(t, `--${k}`);
    };
    let configs: BrokerDeviceConfig[];
    try {
      configs = brokerConfigFromArgs({
        bdf: bdf === undefined ? undefined : opt.bdf(bdf, 'broker'),
        config: str('config'),
        upstream: str('upstream'),
        socket: str('socket'),
        allowUids: (v['allow-uid'] as string[] | undefined)?.map((u) => opt.user(u, '--allow-uid')),
        allowGids: (v['allow-gid'] as string[] | undefined)?.map((g) => opt.group(g, '--allow-gid')),
        socketMode: num('mode', opt.socketMode),
        graceMs: num('grace-ms'),
        maxDmaMaps: num('max-dma-maps'),
        maxDmaBytes: num('max-dma-bytes', opt.bytes),
        mmap: v.mmap as boolean | undefined,
        lingerUs: num('linger-us'),
      });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError((err as Error).message);
    }
    runBroker(configs, { json: v.json === true });
    return 'running';
  },
};
