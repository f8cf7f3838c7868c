// DEVICE_FEATURE (no features supported yet: ENOTTY, as the kernel answers a
// device without them), MIG_DATA_READ/WRITE (ENOTSUP), unknown commands
// (ENOSYS) and server-to-client commands sent by a client (EINVAL).

import { describe, it } from 'node:test';
import {
  Command,
  Feature,
  encodeDeviceFeatureRequest,
  encodeDmaReadRequest,
  encodeMigDataReadRequest,
  encodeMigDataWriteRequest,
} from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { assertError, assertNoLeak, resources, type TestClient, eachClient, rawRequest } from './helpers.js';

function rawFeature(id: number, argsz: number, flags: number, data: number[] = [], length?: number): Buffer {
  const payload = Buffer.alloc(length ?? 8 + data.length);
  if (payload.length >= 8) {
    payload.writeUInt32LE(argsz, 0);
    payload.writeUInt32LE(flags, 4);
    payload.set(data, 8);
  }
  const b = rawRequest(Command.DEVICE_FEATURE, id, payload.length);
  b.set(payload, 16);
  return b;
}

const GET = 1 << 16;
const SET = 1 << 17;

describe('DEVICE_FEATURE and migration data', () => {
  let c: TestClient;
  eachClient({ start: { server: { maxDataXferSize: 65536 } } }, (_server, client) => {
    c = client;
  });

  it('answers ENOTTY for every feature (migration, DMA logging, unknown)', async () => {
    assertError(
      await c.request(encodeDeviceFeatureRequest(c.id(), { feature: Feature.MIGRATION, probe: true, get: true })),
      'ENOTTY',
      'probe migration',
    );
    assertError(
      await c.request(encodeDeviceFeatureRequest(c.id(), { feature: Feature.MIGRATION, get: true, argsz: 16 })),
      'ENOTTY',
      'get migration',
    );
    assertError(
      await c.request(encodeDeviceFeatureRequest(c.id(), { feature: Feature.MIG_DEVICE_STATE, get: true, argsz: 16 })),
      'ENOTTY',
      'get state',
    );
    assertError(
      await c.request(encodeDeviceFeatureRequest(c.id(), { feature: Feature.DMA_LOGGING_STOP, set: true })),
      'ENOTTY',
      'logging stop',
    );
    assertError(await c.request(encodeDeviceFeatureRequest(c.id(), { feature: 99, probe: true })), 'ENOTTY', 'unknown feature');
    assertError(await c.request(encodeDeviceFeatureRequest(c.id(), { feature: 0, get: true })), 'ENOTTY', 'feature 0');
  });

  it('refuses malformed requests (EINVAL)', async () => {
    assertError(await c.request(rawFeature(c.id(), 8, Feature.MIGRATION)), 'EINVAL', 'no GET/SET/PROBE');
    assertError(await c.request(rawFeature(c.id(), 8, Feature.MIGRATION | GET | SET)), 'EINVAL', 'GET and SET without PROBE');
    assertError(await c.request(rawFeature(c.id(), 4, Feature.MIGRATION | GET)), 'EINVAL', 'argsz below 8');
    assertError(await c.request(rawFeature(c.id(), 8, Feature.MIGRATION | GET | (1 << 20))), 'EINVAL', 'unknown flag');
    assertError(await c.request(rawFeature(c.id(), 8, 0, [], 4)), 'EINVAL', 'truncated');
    assertError(await c.request(rawFeature(c.id(), 8, Feature.MIGRATION | SET)), 'EINVAL', 'SET on a GET-only feature');
    assertError(await c.request(rawFeature(c.id(), 24, Feature.DMA_LOGGING_START | SET, [1, 2, 3, 4])), 'EINVAL', 'malformed logging data');
    assertError(
      await c.request(rawFeature(c.id(), 8, Feature.MIG_DEVICE_STATE | SET, new Array(8).fill(0))),
      'EINVAL',
      'SET argsz below the payload',
    );
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeDeviceFeatureRequest(c.id(), { feature: 1, probe: true }), [e.fd]), 'EINVAL', 'descriptor');
    e.close();
    await assertNoLeak(before);
  });

  it('answers MIG_DATA_READ/WRITE with ENOTSUP, E2BIG above the limit, EINVAL when malformed', async () => {
    assertError(await c.request(encodeMigDataReadRequest(c.id(), 64)), 'ENOTSUP');
    assertError(await c.request(encodeMigDataWriteRequest(c.id(), Buffer.alloc(64))), 'ENOTSUP');
    assertError(await c.request(encodeMigDataReadRequest(c.id(), 65537)), 'E2BIG');
    const small = encodeMigDataReadRequest(c.id(), 64);
    small.writeUInt32LE(8, 16);
    assertError(await c.request(small), 'EINVAL', 'argsz too small');
    const w = encodeMigDataWriteRequest(c.id(), Buffer.alloc(8));
    w.writeUInt32LE(9, 20);
    assertError(await c.request(w), 'EINVAL', 'size disagrees with the data');
  });

  it('answers unknown commands with ENOSYS and client-sent DMA_READ with EINVAL', async () => {
    for (const n of [0, 14, 19, 0xffff]) {
      const m = encodeDmaReadRequest(c.id(), 0, 4);
      m.writeUInt16LE(n, 2);
      assertError(await c.request(m), 'ENOSYS', `command ${n}`);
    }
    assertError(await c.request(encodeDmaReadRequest(c.id(), 0, 4)), 'EINVAL');
  });
});
