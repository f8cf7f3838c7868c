// The floor under a vfio-user server written on Node: a server that answers
// every chunk with a 36-byte reply through the same native layer (watcher on
// Node's event loop, recvmsg, sendmsg) and does nothing else. The benchmark
// runs it beside the real server so the figures separate what the event loop
// costs from what the protocol and the device framework add.

import { UnixServer } from '../src/sys/unix-socket.js';

const reply = new Uint8Array(36);
const server = UnixServer.listen(process.argv[2]!, {});
server.on('connection', (c) => {
  c.receive(() => void c.send(reply));
});
process.send?.({ ready: true });
process.on('disconnect', () => {
  server.close();
  process.exit(0);
});
