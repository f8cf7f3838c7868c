// A child process serving our edu model over vfio-user (started by
// serve-child.ts). The Driver API's region accesses are synchronous: a server
// on the client's own event loop could never answer them, so the server lives
// here. Usage: node edu-server.child.js <socket path> [JSON EduOptions]
// Prints one JSON line per event on stdout: {"ready":true}, then
// {"warning":{code,message}} and {"client":{type,...}}. Exits when stdin
// closes (the parent went away) or on SIGTERM, after closing the server.

import { EduModel } from '../../src/devices/edu.js';
import { VfioUserServer } from '../../src/server/index.js';

const [path, json] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: edu-server.child.js <socket path> [options JSON]\n');
  process.exit(2);
}
const options = json ? (JSON.parse(json) as { completion?: 'immediate' | 'sync' | number }) : {};
const send = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

const model = new EduModel(options);
const server = VfioUserServer.listen(path, model);
server.on('warning', (w) => send({ warning: { code: w.code, message: w.message } }));
server.on('client', (e) => send({ client: e }));

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  try {
    await server.close();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
send({ ready: true });
