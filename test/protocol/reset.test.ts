// VFIO_USER_DEVICE_RESET.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  decodeDeviceResetReply,
  decodeDeviceResetRequest,
  encodeDeviceResetReply,
  encodeDeviceResetRequest,
  encodeErrorReply,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg } from './helpers.js';

test('request and reply are the header alone', () => {
  assert.deepEqual(encodeDeviceResetRequest(0x99), bytes(hdr(0x99, 13, 16, 0)));
  assert.deepEqual(encodeDeviceResetReply(0x99), bytes(hdr(0x99, 13, 16, 1)));
  decodeDeviceResetRequest(encodeDeviceResetRequest(0x99));
  decodeDeviceResetReply(encodeDeviceResetReply(0x99));
});

test('a payload or descriptors are EINVAL; a failed reset is the peer error', () => {
  assertErrno(() => decodeDeviceResetRequest(msg(1, 13, 0, [0])), 'EINVAL', /too long/);
  assertErrno(() => decodeDeviceResetRequest(encodeDeviceResetRequest(1), [3]), 'EINVAL');
  assertErrno(() => decodeDeviceResetReply(msg(1, 13, 1, [0, 0, 0, 0])), 'EINVAL', /too long/);
  assertErrno(() => decodeDeviceResetReply(encodeErrorReply({ msgId: 1, command: Command.DEVICE_RESET }, 'ENOTTY')), 'ENOTTY');
});
