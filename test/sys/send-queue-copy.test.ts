// send() copies what the socket could not take at once: a caller that reuses
// its Buffer right after send() returns must not change the queued bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnixConnection } from '../../src/sys/unix-socket.js';

test('bytes queued by send() are a copy, even when the caller passes a Buffer it then reuses', async () => {
  const [a, b] = UnixConnection.pair();
  try {
    const size = 4 * 1024 * 1024; // more than a socket buffer holds: most of it is queued
    const buf = Buffer.alloc(size, 0x11);
    const sentAll = a.send(buf);
    assert.equal(sentAll, false, 'part of the send was queued');
    buf.fill(0x99); // the caller reuses its buffer at once
    const got: number[] = [];
    let total = 0;
    await new Promise<void>((resolve) => {
      b.receive((data, length) => {
        for (let i = 0; i < length; i++) if (data[i] !== 0x11) got.push(total + i);
        total += length;
        if (total === size) resolve();
      });
    });
    assert.equal(total, size);
    assert.equal(got.length, 0, `queued bytes changed after send() returned (first at ${got[0]})`);
  } finally {
    a.close();
    b.close();
  }
});
