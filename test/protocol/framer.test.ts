// The stream framer: splits at every byte, many messages per chunk,
// descriptor attachment, limits, and the stream-broken error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  DEFAULT_MAX_MESSAGE_SIZE,
  MessageFramer,
  StreamError,
  decodeDmaMapRequest,
  decodeRegionWriteRequest,
  encodeDeviceResetRequest,
  encodeDmaMapRequest,
  encodeRegionReadRequest,
  encodeRegionWriteRequest,
  encodeSetIrqsRequest,
  encodeVersionRequest,
  isStreamError,
  type FramedMessage,
} from '../../src/protocol/index.js';
import { bytes, hdr } from './helpers.js';

// A little conversation: sizes 16, 32, 48, 36 + 300 and a VERSION with JSON.
const messages: Buffer[] = [
  encodeDeviceResetRequest(1),
  encodeRegionReadRequest(2, 0, 0x10, 4),
  encodeDmaMapRequest(3, { flags: 3, address: 0x1000, size: 0x1000, offset: 0 }),
  encodeRegionWriteRequest(4, 2, 0x100, Buffer.alloc(300, 0x5a)),
  encodeVersionRequest(5, { major: 0, minor: 2, capabilities: { maxMsgFds: 8 } }),
];
const stream = Buffer.concat(messages);

function pushAll(f: MessageFramer, chunks: Uint8Array[], fds: number[][] = []): FramedMessage[] {
  return chunks.flatMap((c, i) => f.push(c, fds[i] ?? []));
}

function assertSame(got: FramedMessage[], expected: Buffer[] = messages): void {
  assert.equal(got.length, expected.length);
  got.forEach((m, i) => {
    assert.deepEqual(Buffer.from(m.message), expected[i]);
    assert.equal(m.header.size, expected[i]!.length);
    assert.equal(m.header.msgId, expected[i]!.readUInt16LE(0));
  });
}

test('one chunk holding many messages', () => {
  const f = new MessageFramer();
  assertSame(f.push(stream));
  assert.equal(f.pending, 0);
});

test('every split point of the stream into two chunks', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const f = new MessageFramer();
    assertSame(pushAll(f, [stream.subarray(0, cut), stream.subarray(cut)]));
    assert.equal(f.pending, 0);
  }
});

test('every pair of split points into three chunks', () => {
  for (let a = 0; a <= stream.length; a += 3) {
    for (let b = a; b <= stream.length; b += 5) {
      const f = new MessageFramer();
      assertSame(pushAll(f, [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]));
    }
  }
});

test('one byte at a time', () => {
  const f = new MessageFramer();
  const got: FramedMessage[] = [];
  for (let i = 0; i < stream.length; i++) {
    got.push(...f.push(stream.subarray(i, i + 1)));
    const done = got.reduce((n, m) => n + m.message.length, 0);
    assert.equal(f.pending, i + 1 - done);
  }
  assertSame(got);
});

test('messages are copies by default, views of the chunk with copy: false', () => {
  const chunk = Buffer.from(stream);
  const copied = new MessageFramer().push(chunk);
  const viewed = new MessageFramer({ copy: false }).push(chunk);
  chunk.fill(0);
  assertSame(copied);
  assert.equal(viewed[0]!.message.buffer, chunk.buffer);
  assert.equal(viewed[0]!.message[0], 0);
});

test('framed messages decode with the codecs', () => {
  const [, , map, write] = new MessageFramer().push(stream);
  assert.equal(decodeDmaMapRequest(map!.message).size, 0x1000n);
  assert.equal(decodeRegionWriteRequest(write!.message).data.length, 300);
});

test('descriptors belong to the last message that starts in their chunk', () => {
  const reset = encodeDeviceResetRequest(1);
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  const irqs = encodeSetIrqsRequest(3, { data: 'eventfd', action: 'trigger', index: 2, start: 0, count: 2 }, 2);
  const f = new MessageFramer({ maxFds: 2 });
  // [reset][map] arrive together with map's fd (the kernel glued reset in front).
  const a = f.push(Buffer.concat([reset, map]), [40]);
  assert.deepEqual(
    a.map((m) => m.fds),
    [[], [40]],
  );
  // [first half of irqs] with its two fds, then the rest with none.
  const b = f.push(irqs.subarray(0, 10), [41, 42]);
  assert.deepEqual(b, []);
  const c = f.push(irqs.subarray(10));
  assert.deepEqual(c[0]!.fds, [41, 42]);
});

test('descriptors of a chunk that only continues a message go to that message', () => {
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  const f = new MessageFramer();
  assert.deepEqual(f.push(map.subarray(0, 20)), []);
  const out = f.push(map.subarray(20), [7]);
  assert.deepEqual(out[0]!.fds, [7]);
  // ... and so do those of a chunk that ends the message and starts the next.
  const g = new MessageFramer();
  g.push(map.subarray(0, 20));
  const out2 = g.push(Buffer.concat([map.subarray(20), map.subarray(0, 5)]), [8]);
  assert.deepEqual(out2[0]!.fds, []);
  assert.deepEqual(g.push(map.subarray(5))[0]!.fds, [8]);
});

test('descriptors fed with every split of a message stay with it', () => {
  const reset = encodeDeviceResetRequest(9);
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  const s = Buffer.concat([reset, map]);
  for (let cut = reset.length + 1; cut < s.length; cut++) {
    // The fd comes with the chunk holding map's first byte (and possibly reset).
    const f = new MessageFramer();
    const out = pushAll(f, [s.subarray(0, cut), s.subarray(cut)], [[99], []]);
    assert.deepEqual(
      out.map((m) => m.fds),
      [[], [99]],
      `cut ${cut}`,
    );
  }
});

test('more descriptors than allowed break the stream and are handed back', () => {
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  const f = new MessageFramer({ maxFds: 1 });
  assert.throws(
    () => f.push(Buffer.concat([encodeDeviceResetRequest(1), map]), [5, 6]),
    (e: unknown) => {
      assert.ok(e instanceof StreamError && isStreamError(e));
      assert.equal(e.code, 'EPROTO');
      assert.equal(e.reason, 'too-many-fds');
      assert.equal(e.header?.command, Command.DMA_MAP);
      assert.deepEqual(e.fds.sort(), [5, 6]);
      return true;
    },
  );
  assert.equal(f.broken, true);
  // Afterwards every push fails and returns what it was given.
  assert.throws(
    () => f.push(map, [9]),
    (e: unknown) => e instanceof StreamError && e.reason === 'broken' && e.fds[0] === 9,
  );
});

test('descriptors accumulated across chunks count toward the limit', () => {
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  const f = new MessageFramer({ maxFds: 1 });
  f.push(map.subarray(0, 3), [1]);
  assert.throws(
    () => f.push(map.subarray(3, 6), [2]),
    (e: unknown) => e instanceof StreamError && e.reason === 'too-many-fds' && e.fds.length === 2,
  );
});

test('the size limit is enforced as soon as the header is in, before the body', () => {
  const f = new MessageFramer({ maxMessageSize: 64 });
  const big = bytes(hdr(1, Command.REGION_WRITE, 65));
  let err: unknown;
  try {
    f.push(big.subarray(0, 16), [3]);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof StreamError);
  assert.equal(err.reason, 'too-large');
  assert.equal(err.code, 'EPROTO');
  assert.equal(err.header?.size, 65);
  assert.deepEqual(err.fds, [3]);
  assert.equal(f.pending, 0, 'nothing buffered');
  // A message of exactly the limit passes.
  const ok = new MessageFramer({ maxMessageSize: 64 }).push(encodeRegionWriteRequest(1, 0, 0, Buffer.alloc(32)));
  assert.equal(ok[0]!.message.length, 64);
  assert.equal(new MessageFramer().maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE);
});

test('a size field below 16 breaks the stream', () => {
  for (const size of [0, 1, 15]) {
    const f = new MessageFramer();
    assert.throws(
      () => f.push(bytes(hdr(1, 1, size), [0, 0, 0, 0])),
      (e: unknown) => e instanceof StreamError && e.reason === 'header-size',
    );
  }
});

test('an error mid-chunk hands back the descriptors of messages completed before it', () => {
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  const f = new MessageFramer({ maxMessageSize: 100 });
  f.push(map.subarray(0, 10), [11]);
  assert.throws(
    () => f.push(Buffer.concat([map.subarray(10), bytes(hdr(3, 10, 1000))]), [12]),
    (e: unknown) => e instanceof StreamError && e.reason === 'too-large' && e.fds.sort().join() === '11,12',
  );
});

test('descriptors between messages with no bytes are stray', () => {
  const f = new MessageFramer();
  f.push(encodeDeviceResetRequest(1));
  assert.throws(
    () => f.push(new Uint8Array(0), [4]),
    (e: unknown) => e instanceof StreamError && e.reason === 'stray-fds' && e.fds[0] === 4,
  );
  // With a message in progress they join it.
  const g = new MessageFramer();
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  g.push(map.subarray(0, 4));
  g.push(new Uint8Array(0), [5]);
  assert.deepEqual(g.push(map.subarray(4))[0]!.fds, [5]);
});

test('end() reports a message cut off mid-way and returns its descriptors', () => {
  const f = new MessageFramer();
  const map = encodeDmaMapRequest(2, { flags: 3, address: 0, size: 4096 });
  f.push(map.subarray(0, 30), [6]);
  assert.deepEqual(f.end(), { partialBytes: 30, fds: [6] });
  assert.deepEqual(f.end(), { partialBytes: 0, fds: [] });
  // A framer can go on after end() (a fresh stream).
  assert.equal(f.push(map).length, 1);
});

test("a header that frames but is otherwise bad is not the framer's business", () => {
  // Unknown command, reserved flags: framed, left to the codecs (ENOSYS / EINVAL).
  const odd = bytes(hdr(1, 14, 20, 0x40), [1, 2, 3, 4]);
  const out = new MessageFramer().push(Buffer.concat([odd, encodeDeviceResetRequest(2)]));
  assert.equal(out.length, 2);
  assert.equal(out[0]!.header.command, 14);
});

test('the framer refuses a limit below the header size', () => {
  assert.throws(() => new MessageFramer({ maxMessageSize: 8 }), RangeError);
});
