// Worker peer of linger.test.ts: a synchronous client on one end of a
// socketpair shared with the main thread. For each i < count it sleeps
// pauses[i] ms (if given), sends the byte i & 0xff and blocks for the one-byte
// reply; then it posts 'done'.

import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../../src/sys/native.js';

const { fd, count, pauses } = workerData as { fd: number; count: number; pauses: Record<string, number> };
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const reply = new Uint8Array(1);
for (let i = 0; i < count; i++) {
  const pause = pauses[String(i)];
  if (pause) Atomics.wait(sleeper, 0, 0, pause);
  native.sendAll(fd, Uint8Array.of(i & 0xff), 0, 1, null, 10_000);
  if (native.recvSync(fd, reply, 0, 1, null, 10_000) !== 1) throw new Error(`no reply to request ${i}`);
  if (reply[0] !== (i & 0xff)) throw new Error(`reply ${reply[0]} to request ${i}`);
}
parentPort!.postMessage('done');
