// Command numbers against the specification's table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, commandDirection, commandName, isKnownCommand } from '../../src/protocol/index.js';

// The command table of QEMU's docs/interop/vfio-user.rst (protocol 0.2), as
// the specification numbers it: 14 (DIRTY_PAGES of earlier drafts) is gone.
const SPEC_TABLE: readonly (readonly [number, string])[] = [
  [1, 'VERSION'],
  [2, 'DMA_MAP'],
  [3, 'DMA_UNMAP'],
  [4, 'DEVICE_GET_INFO'],
  [5, 'DEVICE_GET_REGION_INFO'],
  [6, 'DEVICE_GET_REGION_IO_FDS'],
  [7, 'DEVICE_GET_IRQ_INFO'],
  [8, 'DEVICE_SET_IRQS'],
  [9, 'REGION_READ'],
  [10, 'REGION_WRITE'],
  [11, 'DMA_READ'],
  [12, 'DMA_WRITE'],
  [13, 'DEVICE_RESET'],
  [15, 'REGION_WRITE_MULTI'],
  [16, 'DEVICE_FEATURE'],
  [17, 'MIG_DATA_READ'],
  [18, 'MIG_DATA_WRITE'],
];

test('every command of the specification has its number and name, and there are no others', () => {
  for (const [n, name] of SPEC_TABLE) {
    assert.equal((Command as Record<string, number>)[name], n, `Command.${name}`);
    assert.equal(commandName(n), name, `commandName(${n})`);
  }
  assert.equal(Object.keys(Command).length, SPEC_TABLE.length, 'no command beyond the table');
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
