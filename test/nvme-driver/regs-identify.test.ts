// Register decoding (CAP, VS, doorbells) and Identify structure parsing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIdentifyController, parseIdentifyNamespace, parseNamespaceList } from '../../src/drivers/nvme/identify.js';
import { cqHeadDoorbell, decodeCap, decodeVersion, sqTailDoorbell } from '../../src/drivers/nvme/index.js';

test('CAP: MQES, CQR, TO, DSTRD, NSSRS, CSS, MPSMIN/MPSMAX', () => {
  // QEMU 7.2's nvme: MQES 0x7ff, CQR 1, TO 0xf, DSTRD 0, CSS NVM (bit 37), MPSMIN 0, MPSMAX 4
  const cap = 0x7ffn | (1n << 16n) | (0xfn << 24n) | (1n << 37n) | (0n << 48n) | (4n << 52n);
  const c = decodeCap(cap);
  assert.equal(c.maxQueueEntries, 2048);
  assert.equal(c.contiguousQueuesRequired, true);
  assert.equal(c.timeoutMs, 7500);
  assert.equal(c.doorbellStride, 4);
  assert.equal(c.nssrSupported, false);
  assert.equal(c.commandSets, 1);
  assert.equal(c.minPageSize, 4096);
  assert.equal(c.maxPageSize, 65536);
  const d = decodeCap((2n << 32n) | (1n << 36n) | (1n << 48n));
  assert.equal(d.doorbellStride, 16);
  assert.equal(d.nssrSupported, true);
  assert.equal(d.minPageSize, 8192);
  assert.equal(decodeVersion(0x00010400), '1.4.0');
});

test('doorbell offsets with stride', () => {
  assert.equal(sqTailDoorbell(0, 4), 0x1000);
  assert.equal(cqHeadDoorbell(0, 4), 0x1004);
  assert.equal(sqTailDoorbell(3, 4), 0x1018);
  assert.equal(cqHeadDoorbell(3, 16), 0x1000 + 7 * 16);
});

test('Identify Controller fields', () => {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0x1b36, true);
  v.setUint16(2, 0x1af4, true);
  b.set(Buffer.from('vfiots-nvme-0001    ', 'latin1'), 4);
  b.set(Buffer.from('QEMU NVMe Ctrl'.padEnd(40), 'latin1'), 24);
  b.set(Buffer.from('7.2.0   ', 'latin1'), 64);
  b[77] = 7;
  v.setUint16(78, 0, true);
  v.setUint32(80, 0x00010400, true);
  b[512] = 0x66;
  b[513] = 0x44;
  v.setUint32(516, 256, true);
  v.setUint16(520, 0x000c, true);
  b[525] = 1;
  const id = parseIdentifyController(b);
  assert.equal(id.vendorId, 0x1b36);
  assert.equal(id.serial, 'vfiots-nvme-0001');
  assert.equal(id.model, 'QEMU NVMe Ctrl');
  assert.equal(id.firmware, '7.2.0');
  assert.equal(id.mdts, 7);
  assert.equal(id.version, 0x10400);
  assert.deepEqual(id.sqes, { min: 6, max: 6 });
  assert.deepEqual(id.cqes, { min: 4, max: 4 });
  assert.equal(id.namespaces, 256);
  assert.equal(id.supportsDsm, true);
  assert.equal(id.supportsWriteZeroes, true);
  assert.equal(id.volatileWriteCache, true);
});

test('Identify Namespace: NSZE, FLBAS -> block size', () => {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 8192n, true);
  v.setBigUint64(8, 8192n, true);
  b[25] = 1; // two formats
  b[26] = 1; // using format 1
  v.setUint32(128, 9 << 16, true);
  v.setUint32(132, (12 << 16) | 8, true);
  const ns = parseIdentifyNamespace(b);
  assert.equal(ns.size, 8192n);
  assert.equal(ns.formats.length, 2);
  assert.equal(ns.formatIndex, 1);
  assert.equal(ns.blockSize, 4096);
  assert.equal(ns.metadataSize, 8);
  assert.equal(ns.inactive, false);
  assert.equal(parseIdentifyNamespace(new Uint8Array(4096)).inactive, true);
});

test('active namespace list', () => {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  [1, 2, 5].forEach((id, i) => {
    v.setUint32(i * 4, id, true);
  });
  assert.deepEqual(parseNamespaceList(b), [1, 2, 5]);
});
