// BAR and ROM sizing emulation, address decoding, probing, declaration errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBar, formatSize, probeBarSizes, type BarDecl } from '../../src/pci/bars.js';
import { createConfigSpace } from '../../src/pci/builder.js';
import * as R from '../../src/pci/regs.js';
import { errorWith, withSpy } from './fixtures.js';

const dev = (bars: (BarDecl | undefined)[], rom?: number) =>
  createConfigSpace({ vendorId: 0x1234, deviceId: 1, classCode: 0xff0000, bars, ...(rom ? { rom: { size: rom } } : {}) });

const BAR = (i: number) => R.PCI_BASE_ADDRESS_0 + 4 * i;

test('32-bit memory BAR: all-ones reads the size mask, an address reads back masked', () => {
  const cs = dev([{ kind: 'mem32', size: 1 << 20 }]);
  assert.equal(cs.read(BAR(0), 4), 0x00000000);
  cs.write(BAR(0), 4, 0xffffffff);
  assert.equal(cs.read(BAR(0), 4), 0xfff00000);
  cs.write(BAR(0), 4, 0xfe0fffff);
  assert.equal(cs.read(BAR(0), 4), 0xfe000000);
  assert.equal(cs.barAddress(0), 0xfe000000n);
  // Byte writes are masked too.
  cs.write(BAR(0) + 2, 1, 0xff);
  assert.equal(cs.read(BAR(0), 4), 0xfef00000);
});

test('64-bit BAR: flags on the low dword, the upper dword takes the high address bits', () => {
  const cs = dev([{ kind: 'mem64', size: 16 * 1024 }]);
  assert.equal(cs.read(BAR(0), 4), 0x00000004);
  cs.write(BAR(0), 4, 0xffffffff);
  cs.write(BAR(1), 4, 0xffffffff);
  assert.equal(cs.read(BAR(0), 4), 0xffffc004);
  assert.equal(cs.read(BAR(1), 4), 0xffffffff);
  cs.write(BAR(0), 4, 0x2345c000);
  cs.write(BAR(1), 4, 0x00000001);
  assert.equal(cs.barAddress(0), 0x12345c000n);
  assert.equal(cs.barAddress(1), undefined, 'the upper half is not a BAR of its own');
});

test('prefetchable 64-bit BAR larger than 4 GiB sizes with the high bits', () => {
  const cs = dev([undefined, undefined, { kind: 'mem64', size: 2 ** 33, prefetchable: true }]);
  assert.equal(cs.read(BAR(2), 4), 0x0000000c);
  cs.write(BAR(2), 4, 0xffffffff);
  cs.write(BAR(3), 4, 0xffffffff);
  assert.equal(cs.read(BAR(2), 4), 0x0000000c);
  assert.equal(cs.read(BAR(3), 4), 0xfffffffe);
});

test('32-bit prefetchable and I/O BARs', () => {
  const cs = dev([
    { kind: 'mem32', size: 4096, prefetchable: true },
    { kind: 'io', size: 32 },
    { kind: 'io', size: 256 },
  ]);
  cs.write(BAR(0), 4, 0xffffffff);
  assert.equal(cs.read(BAR(0), 4), 0xfffff008);
  cs.write(BAR(1), 4, 0xffffffff);
  assert.equal(cs.read(BAR(1), 4), 0xffffffe1);
  cs.write(BAR(2), 4, 0xffffffff);
  assert.equal(cs.read(BAR(2), 4), 0xffffff01);
  cs.write(BAR(1), 4, 0xc040);
  assert.equal(cs.read(BAR(1), 4), 0xc041);
  assert.equal(cs.barAddress(1), 0xc040n);
  assert.equal(cs.bar(1)?.kind, 'io');
});

test('unimplemented BARs read 0 whatever is written', () => {
  const cs = dev([undefined, { kind: 'mem32', size: 64 }]);
  for (const i of [0, 2, 3, 4, 5]) {
    cs.write(BAR(i), 4, 0xffffffff);
    assert.equal(cs.read(BAR(i), 4), 0, `BAR${i}`);
    assert.equal(cs.barAddress(i), undefined);
  }
  cs.write(R.PCI_ROM_ADDRESS, 4, 0xffffffff);
  assert.equal(cs.read(R.PCI_ROM_ADDRESS, 4), 0);
  assert.equal(cs.romAddress, undefined);
});

test('ROM BAR sizes like hardware and keeps its enable bit', () => {
  const cs = dev([], 64 * 1024);
  cs.write(R.PCI_ROM_ADDRESS, 4, R.PCI_ROM_ADDRESS_MASK);
  assert.equal(cs.read(R.PCI_ROM_ADDRESS, 4), 0xffff0000);
  cs.write(R.PCI_ROM_ADDRESS, 4, 0xffffffff);
  assert.equal(cs.read(R.PCI_ROM_ADDRESS, 4), 0xffff0001);
  cs.write(R.PCI_ROM_ADDRESS, 4, 0xfeb40001);
  assert.equal(cs.romAddress, 0xfeb40000);
  assert.equal(cs.romEnabled, true);
  cs.write(R.PCI_ROM_ADDRESS, 4, 0xfeb40000);
  assert.equal(cs.romEnabled, false);
});

test('BARs are virtual: the backing never sees them', () => {
  const { cs, spy } = withSpy({ vendorId: 1, deviceId: 1, classCode: 0, bars: [{ kind: 'mem32', size: 256 }], rom: { size: 2048 } });
  cs.write(BAR(0), 4, 0xffffffff);
  cs.write(R.PCI_ROM_ADDRESS, 4, 0xffffffff);
  assert.deepEqual(spy.writes(), []);
});

test('probeBarSizes sizes every BAR through the access API and restores the values', () => {
  const cs = dev(
    [{ kind: 'mem64', size: 16 * 1024 }, undefined, { kind: 'io', size: 64 }, { kind: 'mem32', size: 1 << 20, prefetchable: true }],
    128 * 1024,
  );
  cs.write(BAR(0), 4, 0xfe000000);
  cs.write(BAR(2), 4, 0xc000);
  const before = cs.snapshot();
  const probed = probeBarSizes(cs);
  assert.deepEqual(cs.snapshot(), before, 'values restored');
  assert.deepEqual(probed.bars, [
    { index: 0, kind: 'mem64', prefetchable: false, size: 16 * 1024 },
    undefined,
    { index: 2, kind: 'io', prefetchable: false, size: 64 },
    { index: 3, kind: 'mem32', prefetchable: true, size: 1 << 20 },
    undefined,
    undefined,
  ]);
  assert.equal(probed.romSize, 128 * 1024);
});

test('decodeBar reads BARs from raw bytes; formatSize uses lspci units', () => {
  const cfg = new Uint8Array(64);
  const dv = new DataView(cfg.buffer);
  dv.setUint32(BAR(0), 0xfe00000c, true);
  dv.setUint32(BAR(1), 0x00000002, true);
  dv.setUint32(BAR(2), 0x0000c001, true);
  assert.deepEqual(decodeBar(cfg, 0), { index: 0, kind: 'mem64', prefetchable: true, address: 0x2fe000000n });
  assert.equal(decodeBar(cfg, 1), undefined);
  assert.deepEqual(decodeBar(cfg, 2), { index: 2, kind: 'io', prefetchable: false, address: 0xc000n });
  assert.equal(decodeBar(cfg, 3), undefined);
  assert.equal(formatSize(16384), '16K');
  assert.equal(formatSize(1 << 20), '1M');
  assert.equal(formatSize(2 ** 33), '8G');
  assert.equal(formatSize(48), '48');
});

test('impossible BAR declarations are refused with stable reasons', () => {
  const bad: [BarDecl[], string][] = [
    [[{ kind: 'mem32', size: 3000 }], 'not-power-of-two'],
    [[{ kind: 'mem32', size: 8 }], 'too-small'],
    [[{ kind: 'io', size: 2 }], 'too-small'],
    [[{ kind: 'io', size: 512 }], 'too-large'],
    [[{ kind: 'mem32', size: 2 ** 32 }], 'too-large'],
    [[{ index: 5, kind: 'mem64', size: 4096 }], 'bar-slot'],
    [
      [
        { kind: 'mem64', size: 4096 },
        { kind: 'mem32', size: 4096 },
      ],
      'bar-slot',
    ],
    [[{ index: 6, kind: 'mem32', size: 4096 }], 'bar-slot'],
    [
      [
        { index: 2, kind: 'mem32', size: 4096 },
        { index: 2, kind: 'io', size: 4 },
      ],
      'bar-slot',
    ],
    [[{ kind: 'io', size: 16, prefetchable: true }], 'bad-value'],
  ];
  for (const [bars, reason] of bad) {
    assert.throws(() => dev(bars), errorWith('EINVAL', reason), JSON.stringify(bars));
  }
  assert.throws(() => dev([], 1024), errorWith('EINVAL', 'too-small'));
  assert.throws(() => dev([], 3 * 2048), errorWith('EINVAL', 'not-power-of-two'));
  assert.throws(() => dev([], 32 * 1024 * 1024), errorWith('EINVAL', 'too-large'));
});
