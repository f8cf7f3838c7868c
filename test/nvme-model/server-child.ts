// Child process of the NVMe model tests: serves an NvmeModel on the
// UNIX socket argv[2] with the JSON options argv[3]. Talks to its parent over
// the fork IPC channel: 'ready' once listening, then answers requests
// ({ id, op: 'stats' | 'event' | 'cpu' | 'state' | 'close' }).

import { serveNvme, type ServeNvmeOptions } from '../../src/devices/nvme/index.js';

const path = process.argv[2]!;
const options = JSON.parse(process.argv[3] ?? '{}') as ServeNvmeOptions;
const served = serveNvme(path, options);
const c = served.model;
served.server.on('warning', (w) => process.send?.({ warning: `${w.code}: ${w.message}` }));

interface Request {
  id: number;
  op: string;
  args?: number[];
}

process.on('message', (m: Request) => {
  const reply = (value: unknown): void => void process.send?.({ id: m.id, value });
  switch (m.op) {
    case 'stats':
      reply({ ...c.stats, windowMisses: c.windowMisses, health: { ...c.health } });
      break;
    case 'event':
      c.raiseAsyncEvent(m.args![0]!, m.args![1]!, m.args![2]!);
      reply(true);
      break;
    case 'cpu': {
      const u = process.cpuUsage();
      reply({ user: u.user, system: u.system, uptime: process.uptime() });
      break;
    }
    case 'state':
      reply({
        cc: c.registers.cc,
        csts: c.registers.csts,
        sqs: c.queues.sqList.map((q) => q.qid),
        cqs: c.queues.cqList.map((q) => q.qid),
        aers: c.events.requests.length,
      });
      break;
    case 'close':
      void served.close().then(() => {
        reply(true);
        process.exit(0);
      });
      break;
    default:
      reply(null);
  }
});
process.send?.({ ready: true });
