// Mutated and truncated messages: every decoder either decodes or throws an
// ErrnoError, never anything else (no RangeError from a read past the end, no
// TypeError), and the framer fed random bytes either frames or breaks cleanly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrnoError } from '../../src/errors.js';
import * as P from '../../src/protocol/index.js';

// Deterministic xorshift32 so failures reproduce.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

type Decoder = (m: Uint8Array, fds: number[]) => unknown;

const samples: [string, Buffer, Decoder][] = [
  [
    'version',
    P.encodeVersionRequest(1, {
      major: 0,
      minor: 2,
      capabilities: { maxMsgFds: 8, migration: { pgsize: 4096 }, twinSocket: { supported: true } },
    }),
    (m) => P.decodeVersionRequest(m),
  ],
  ['version reply', P.encodeVersionReply(1, { major: 0, minor: 1, capabilities: { pgsizes: 4096 } }), (m) => P.decodeVersionReply(m)],
  ['dma map', P.encodeDmaMapRequest(1, { flags: 3, address: 0x1000, size: 0x1000, offset: 0x2000 }), (m, f) => P.decodeDmaMapRequest(m, f)],
  [
    'dma unmap',
    P.encodeDmaUnmapRequest(1, { address: 0x1000, size: 0x4000, bitmap: { pgsize: 4096, size: 8 } }),
    (m) => P.decodeDmaUnmapRequest(m),
  ],
  [
    'dma unmap reply',
    P.encodeDmaUnmapReply(
      1,
      P.decodeDmaUnmapRequest(P.encodeDmaUnmapRequest(1, { address: 0, size: 0x4000, bitmap: { pgsize: 4096, size: 8 } })),
      new Uint8Array(8),
    ),
    (m) => P.decodeDmaUnmapReply(m),
  ],
  ['device info', P.encodeDeviceGetInfoRequest(1), (m) => P.decodeDeviceGetInfoRequest(m)],
  ['device info reply', P.encodeDeviceGetInfoReply(1, 16, { flags: 3, numRegions: 9, numIrqs: 5 }), (m) => P.decodeDeviceGetInfoReply(m)],
  ['region info', P.encodeRegionInfoRequest(1, 0, 4096), (m) => P.decodeRegionInfoRequest(m)],
  [
    'region info reply',
    P.encodeRegionInfoReply(1, 4096, {
      flags: 7,
      index: 0,
      size: 0x4000,
      offset: 0,
      caps: [
        { kind: 'sparse-mmap', areas: [{ offset: 0n, size: 0x1000n }] },
        { kind: 'type', type: 1, subtype: 1 },
        { kind: 'unknown', id: 50, version: 1, data: new Uint8Array(8) },
      ],
    }).message,
    (m, f) => P.decodeRegionInfoReply(m, f),
  ],
  ['io fds', P.encodeRegionIoFdsRequest(1, 0, 1024), (m) => P.decodeRegionIoFdsRequest(m)],
  [
    'io fds reply',
    P.encodeRegionIoFdsReply(1, 4096, 0, [{ type: 'ioeventfd', offset: 0, size: 4, fdIndex: 0, flags: 1, datamatch: 1 }], 1).message,
    (m, f) => P.decodeRegionIoFdsReply(m, f),
  ],
  ['irq info', P.encodeIrqInfoRequest(1, 2), (m) => P.decodeIrqInfoRequest(m)],
  ['irq info reply', P.encodeIrqInfoReply(1, { flags: 1, index: 2, count: 8 }), (m) => P.decodeIrqInfoReply(m)],
  [
    'set irqs',
    P.encodeSetIrqsRequest(1, { data: 'bool', action: 'mask', index: 0, start: 0, count: 3, bools: new Uint8Array(3) }),
    (m, f) => P.decodeSetIrqsRequest(m, f),
  ],
  ['region read', P.encodeRegionReadRequest(1, 0, 0, 4), (m) => P.decodeRegionReadRequest(m, [], { maxDataXferSize: 4096 })],
  ['region read reply', P.encodeRegionReadReply(1, 0, 0, new Uint8Array(4)), (m) => P.decodeRegionReadReply(m)],
  ['region write', P.encodeRegionWriteRequest(1, 0, 0, new Uint8Array(4)), (m) => P.decodeRegionWriteRequest(m)],
  ['region read check', P.encodeRegionReadReply(1, 0, 0, new Uint8Array(4)), (m) => P.checkRegionReadReply(m, 1, 0, 0, 4)],
  [
    'write multi',
    P.encodeRegionWriteMultiRequest(1, [
      { offset: 0, region: 0, data: new Uint8Array(4) },
      { offset: 8, region: 0, data: new Uint8Array(8) },
    ]),
    (m) => P.decodeRegionWriteMultiRequest(m),
  ],
  ['dma read', P.encodeDmaReadRequest(1, 0x1000, 8), (m) => P.decodeDmaReadRequest(m)],
  ['dma read reply', P.encodeDmaReadReply(1, 0x1000, new Uint8Array(8)), (m) => P.decodeDmaReadReply(m)],
  ['dma write', P.encodeDmaWriteRequest(1, 0x1000, new Uint8Array(8)), (m) => P.decodeDmaWriteRequest(m)],
  ['dma write reply', P.encodeDmaWriteReply(1, 0x1000, 8), (m) => P.checkDmaWriteReply(m, 1, 0x1000, 8)],
  ['reset', P.encodeDeviceResetRequest(1), (m) => P.decodeDeviceResetRequest(m)],
  [
    'feature',
    P.encodeDeviceFeatureRequest(1, {
      feature: 6,
      set: true,
      data: P.encodeDmaLoggingControl({ pageSize: 4096, ranges: [{ iova: 0, length: 4096 }] }),
    }),
    (m) => P.interpretDeviceFeatureRequest(P.decodeDeviceFeatureRequest(m)),
  ],
  [
    'feature reply',
    P.encodeDeviceFeatureReply(
      1,
      P.decodeDeviceFeatureRequest(P.encodeDeviceFeatureRequest(1, { feature: 1, get: true, argsz: 16 })),
      P.encodeMigrationFeatureData(1),
    ),
    (m) => P.decodeMigrationFeatureData(P.decodeDeviceFeatureReply(m).data),
  ],
  ['mig read', P.encodeMigDataReadRequest(1, 64), (m) => P.decodeMigDataReadRequest(m)],
  ['mig read reply', P.encodeMigDataReadReply(1, new Uint8Array(5)), (m) => P.decodeMigDataReadReply(m)],
  ['mig write', P.encodeMigDataWriteRequest(1, new Uint8Array(5)), (m) => P.decodeMigDataWriteRequest(m)],
];

function mutate(m: Buffer, r: () => number): Buffer {
  const b = Buffer.from(m);
  switch (r() % 4) {
    case 0: // flip a few bytes
      for (let i = r() % 4; i >= 0; i--) b[r() % b.length] = r() & 0xff;
      return b;
    case 1: {
      // truncate, keeping the header's size honest half of the time
      const n = r() % b.length;
      const t = Buffer.from(b.subarray(0, n));
      if (n >= 16 && r() % 2) t.writeUInt32LE(n, 4);
      return t;
    }
    case 2: {
      // extend
      const t = Buffer.concat([b, Buffer.alloc(1 + (r() % 40), r() & 0xff)]);
      if (r() % 2) t.writeUInt32LE(t.length, 4);
      return t;
    }
    default: // a random u32 somewhere in the payload
      if (b.length >= 20) b.writeUInt32LE(r(), 16 + 4 * (r() % Math.floor((b.length - 16) / 4)));
      return b;
  }
}

test('samples decode as they are', () => {
  for (const [name, m, decode] of samples) {
    assert.doesNotThrow(
      () => decode(m, name.includes('region info reply') || name.includes('io fds reply') || name === 'dma map' ? [3] : []),
      name,
    );
  }
});

test('every mutation decodes or fails with an ErrnoError', () => {
  const r = rng(0x5eed);
  for (const [name, m, decode] of samples) {
    for (let i = 0; i < 400; i++) {
      const x = mutate(m, r);
      const fds = r() % 3 === 0 ? [3] : [];
      try {
        decode(x, fds);
      } catch (e) {
        assert.ok(e instanceof ErrnoError, `${name}: ${x.toString('hex')} threw ${String(e)}`);
      }
    }
  }
});

test('random bytes into the framer: messages or a clean StreamError', () => {
  const r = rng(42);
  for (let round = 0; round < 200; round++) {
    const f = new P.MessageFramer({ maxMessageSize: 512, maxFds: 2 });
    try {
      for (let i = 0; i < 20; i++) {
        const chunk = Buffer.alloc(r() % 64);
        for (let j = 0; j < chunk.length; j++) chunk[j] = r() & 0xff;
        // Make small sizes likely so that some messages frame.
        if (chunk.length >= 8 && r() % 2) chunk.writeUInt32LE(16 + (r() % 48), 4);
        for (const m of f.push(chunk, r() % 5 === 0 ? [r() % 100] : [])) {
          assert.equal(m.message.length, m.header.size);
          try {
            P.openMessage(m.message);
          } catch (e) {
            assert.ok(e instanceof ErrnoError && !(e instanceof P.StreamError));
          }
        }
      }
    } catch (e) {
      assert.ok(e instanceof P.StreamError, String(e));
      assert.equal(e.code, 'EPROTO');
    }
  }
});
