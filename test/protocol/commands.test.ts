// Command numbers against the specification's table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, commandDirection, commandName, isKnownCommand } from '../../src/protocol/index.js';

test('command numbers are those of docs/interop/vfio-user.rst', () => {
  assert.deepEqual(Command, {
    VERSION: 1,
    DMA_MAP: 2,
    DMA_UNMAP: 3,
    DEVICE_GET_INFO: 4,
    DEVICE_GET_REGION_INFO: 5,
    DEVICE_GET_REGION_IO_FDS: 6,
    DEVICE_GET_IRQ_INFO: 7,
    DEVICE_SET_IRQS: 8,
    REGION_READ: 9,
    REGION_WRITE: 10,
    DMA_READ: 11,
    DMA_WRITE: 12,
    DEVICE_RESET: 13,
    REGION_WRITE_MULTI: 15,
    DEVICE_FEATURE: 16,
    MIG_DATA_READ: 17,
    MIG_DATA_WRITE: 18,
  });
});

test('14 (the removed DIRTY_PAGES) and numbers past 18 are unknown', () => {
  for (const n of [0, 14, 19, 100]) assert.equal(isKnownCommand(n), false);
  for (let n = 1; n <= 18; n++) assert.equal(isKnownCommand(n), n !== 14);
  assert.equal(commandName(14), 'command 14');
  assert.equal(commandName(5), 'DEVICE_GET_REGION_INFO');
});

test('only DMA_READ and DMA_WRITE go from server to client', () => {
  for (const n of Object.values(Command)) {
    const expected = n === 11 || n === 12 ? 'server-to-client' : 'client-to-server';
    assert.equal(commandDirection(n), expected);
  }
});
