// Completion status decoding (NVMe 1.4 §4.6.1) into typed errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VfioTsError } from '../../src/errors.js';
import { decodeStatus, describeStatus, isSuccess, NvmeError, NvmeTimeoutError, statusFieldOf } from '../../src/drivers/nvme/index.js';

test('status field layout: SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14 (CQE bits 31:17)', () => {
  // CQE word at offset 14: phase in bit 0, status field above it
  const word = (1 << 15) | (1 << 14) | (2 << 12) | (1 << 9) | (0x01 << 1) | 1;
  const field = statusFieldOf(word);
  assert.deepEqual(decodeStatus(field), { sc: 0x01, sct: 1, crd: 2, more: true, dnr: true });
  assert.equal(isSuccess(0), true);
  assert.equal(isSuccess((1 << 14) | (1 << 13)), true, 'DNR/M without a status code is still success');
  assert.equal(isSuccess(0x80), false);
});

test('stable codes for the statuses a driver meets', () => {
  const cases: [number, number, string, string][] = [
    [0, 0x01, 'NVME_INVALID_OPCODE', 'Invalid Command Opcode'],
    [0, 0x02, 'NVME_INVALID_FIELD', 'Invalid Field in Command'],
    [0, 0x0b, 'NVME_INVALID_NAMESPACE', 'Invalid Namespace or Format'],
    [0, 0x80, 'NVME_LBA_OUT_OF_RANGE', 'LBA Out of Range'],
    [0, 0x81, 'NVME_CAPACITY_EXCEEDED', 'Capacity Exceeded'],
    [1, 0x00, 'NVME_INVALID_CQ', 'Completion Queue Invalid'],
    [1, 0x01, 'NVME_INVALID_QUEUE_ID', 'Invalid Queue Identifier'],
    [1, 0x02, 'NVME_INVALID_QUEUE_SIZE', 'Invalid Queue Size'],
    [1, 0x08, 'NVME_INVALID_INTERRUPT_VECTOR', 'Invalid Interrupt Vector'],
    [1, 0x0c, 'NVME_INVALID_QUEUE_DELETION', 'Invalid Queue Deletion'],
    [1, 0x82, 'NVME_WRITE_TO_READ_ONLY_RANGE', 'Attempted Write to Read Only Range'],
    [2, 0x81, 'NVME_UNRECOVERED_READ_ERROR', 'Unrecovered Read Error'],
    [2, 0x85, 'NVME_COMPARE_FAILURE', 'Compare Failure'],
    [3, 0x71, 'NVME_ABORTED_BY_HOST', 'Command Aborted By Host'],
  ];
  for (const [sct, sc, code, name] of cases) assert.deepEqual(describeStatus(sct, sc), { code, name }, `${sct}/${sc}`);
  assert.equal(describeStatus(0, 0x7f).code, 'NVME_STATUS_0_7F');
  assert.equal(describeStatus(7, 0x12).code, 'NVME_VENDOR_12');
  assert.equal(describeStatus(5, 0).code, 'NVME_STATUS_5_00');
});

test('NvmeError carries the fields and a readable message', () => {
  const e = new NvmeError((1 << 14) | (0 << 8) | 0x80, { opcode: 0x02, qid: 1, cid: 7, command: 'Read' }, 0x1234);
  assert.ok(e instanceof VfioTsError);
  assert.equal(e.name, 'NvmeError');
  assert.equal(e.code, 'NVME_LBA_OUT_OF_RANGE');
  assert.equal(e.errno, undefined);
  assert.deepEqual([e.sct, e.sc, e.dnr, e.more, e.crd, e.opcode, e.qid, e.cid, e.dw0], [0, 0x80, true, false, 0, 2, 1, 7, 0x1234]);
  assert.equal(e.message, 'NVMe Read failed on queue 1: LBA Out of Range (SCT 0, SC 0x80, do not retry)');
  const raw = new NvmeError((1 << 8) | 0x01, { opcode: 0x00, qid: 0, cid: 3 });
  assert.equal(raw.message, 'NVMe opcode 0x00 failed on queue 0: Invalid Queue Identifier (SCT 1, SC 0x01)');
});

test('NvmeTimeoutError', () => {
  const e = new NvmeTimeoutError({ opcode: 6, qid: 0, cid: 1, command: 'Identify' }, 250, ' (controller fatal status: CSTS.CFS = 1)');
  assert.equal(e.code, 'NVME_TIMEOUT');
  assert.equal(e.message, 'NVMe Identify (queue 0, command id 1) got no completion within 250 ms (controller fatal status: CSTS.CFS = 1)');
});
