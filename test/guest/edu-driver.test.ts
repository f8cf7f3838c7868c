// The edu driver suite (test/edu/edu-driver.suite.ts) against QEMU's own edu,
// through the kernel backend, inside the test guest (docs/vm.md) as the
// unprivileged user; plus a check that QEMU answers bad register accesses the
// way our model (src/devices/edu.ts) claims it does. Outside a guest every
// test skips itself, with the reason in its name.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openKernelDevice } from './vfio-api.js';
import { EduModel } from '../../src/devices/edu.js';
import { eduDriverSuite } from '../edu/edu-driver.suite.js';

const IN_GUEST = process.env.VFIO_TS_GUEST === '1';
const EDU = process.env.VFIO_TS_GUEST_EDU ?? '0000:00:04.0';
const SKIP = IN_GUEST
  ? false
  : 'not in a test guest (VFIO_TS_GUEST != 1); run: node out/vm/cli.js -- node --test out/test/guest/edu-driver.test.js';

eduDriverSuite('QEMU edu via the kernel backend', () => openKernelDevice(EDU), { skip: SKIP });

// What QEMU's edu answers to accesses of every width at a few offsets, through
// the mmap of BAR0 (the guest CPU's own loads reach QEMU with the width
// asked; TCG cuts unaligned ones into aligned pieces), compared with the
// model's mmioRead.
test(`QEMU edu answers bad accesses as the model says${SKIP ? ` (SKIPPED: ${SKIP})` : ''}`, { skip: SKIP, timeout: 60_000 }, () => {
  const dev = openKernelDevice(EDU);
  try {
    const cmd = dev.config.read16(4);
    dev.config.write16(4, cmd | 0x2);
    const bar = dev.bar(0);
    assert.equal(bar.mapped, true);
    const model = new EduModel({ completion: 'sync' });
    bar.write32(0x04, 0x0f0f0f0f);
    model.mmioWrite(0x04, 4, 0x0f0f0f0fn);
    bar.write32(0x80, 0x1000);
    model.mmioWrite(0x80, 4, 0x1000n);
    bar.write32(0x88, 0x40000);
    model.mmioWrite(0x88, 4, 0x40000n);
    bar.write32(0x20, 0);
    model.mmioWrite(0x20, 4, 0n);
    bar.write32(0x08, 3);
    model.mmioWrite(0x08, 4, 3n);
    for (let i = 0; bar.read32(0x20) & 1; i++) assert.ok(i < 1_000_000, 'factorial done');
    const seen: string[] = [];
    for (const off of [0x00, 0x02, 0x04, 0x06, 0x0c, 0x80, 0x81, 0x84, 0x88, 0x100, 0x40000]) {
      const q = { 1: BigInt(bar.read8(off)), 2: BigInt(bar.read16(off)), 4: BigInt(bar.read32(off)), 8: bar.read64(off) };
      for (const size of [1, 2, 4, 8] as const) {
        const want = model.mmioRead(off, size);
        seen.push(`0x${off.toString(16)}/${size}: qemu 0x${q[size].toString(16)} model 0x${want.toString(16)}`);
      }
    }
    const diffs = seen.filter((l) => {
      const m = /qemu (0x[0-9a-f]+) model (0x[0-9a-f]+)/.exec(l)!;
      return m[1] !== m[2];
    });
    assert.deepEqual(diffs, [], seen.join('\n'));
  } finally {
    dev.close();
  }
});
