// MSI-X: the read-only capability, enable through the API, the vector table and PBA, validation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace, type DeviceDecl } from '../../src/pci/builder.js';
import type { MsixDecl } from '../../src/pci/caps/msix.js';
import { MsixTable } from '../../src/pci/msix-table.js';
import * as R from '../../src/pci/regs.js';
import { NVME, errorWith } from './fixtures.js';

const MSIX = 0x60;

test('the capability describes table and PBA, and is read-only to the user', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.findCapability(R.PCI_CAP_ID_MSIX), MSIX);
  assert.deepEqual(cs.msix, {
    offset: MSIX,
    tableSize: 65,
    tableBar: 0,
    tableOffset: 0x2000,
    tableBytes: 65 * 16,
    pbaBar: 0,
    pbaOffset: 0x3000,
    pbaBytes: 16,
    enabled: false,
    functionMask: false,
  });
  const before = cs.readBytes(MSIX, 12);
  cs.write(MSIX + R.PCI_MSIX_FLAGS, 2, R.PCI_MSIX_FLAGS_ENABLE | R.PCI_MSIX_FLAGS_MASKALL | 0x7ff);
  cs.write(MSIX + R.PCI_MSIX_TABLE, 4, 0xffffffff);
  cs.write(MSIX + R.PCI_MSIX_PBA, 4, 0);
  assert.deepEqual(cs.readBytes(MSIX, 12), before);
});

test('enable and function mask change only through the interrupt API', () => {
  const cs = createConfigSpace(NVME);
  const flags = MSIX + R.PCI_MSIX_FLAGS;
  cs.setMsixEnabled(true);
  assert.equal(cs.read(flags, 2), R.PCI_MSIX_FLAGS_ENABLE | 64);
  assert.equal(cs.msixTable?.enabled, true);
  cs.setMsixFunctionMask(true);
  assert.equal(cs.read(flags, 2), R.PCI_MSIX_FLAGS_ENABLE | R.PCI_MSIX_FLAGS_MASKALL | 64);
  assert.equal(cs.msixTable?.functionMask, true);
  assert.equal(cs.msixTable?.masked(0), true);
  cs.write(flags, 2, 0);
  assert.equal(cs.msix?.enabled, true);
  cs.setMsixFunctionMask(false);
  cs.setMsixEnabled(false);
  assert.equal(cs.read(flags, 2), 64);
  const none = createConfigSpace({ vendorId: 1, deviceId: 1, classCode: 0 });
  assert.equal(none.msixTable, undefined);
  assert.throws(() => none.setMsixEnabled(true), errorWith('EINVAL'));
});

test('table entries: all masked after reset, 16 bytes each, reserved control bits read 0', () => {
  const t = new MsixTable(4);
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(t.entry(i), { address: 0n, data: 0, masked: true });
    assert.equal(t.readTable(i * 16 + 12, 4), 1);
  }
  t.writeTable(16 + 0, 4, 0xfee00000);
  t.writeTable(16 + 4, 4, 0x1);
  t.writeTable(16 + 8, 4, 0x4041);
  t.writeTable(16 + 12, 4, 0xfffffffe); // unmask; reserved bits dropped
  assert.deepEqual(t.entry(1), { address: 0x1fee00000n, data: 0x4041, masked: false });
  assert.equal(t.readTable(16 + 12, 4), 0);
  // Byte-range access spanning two entries.
  const src = new Uint8Array(24).fill(0xff);
  t.writeTableBytes(8, src);
  assert.equal(t.readTable(8, 4), 0xffffffff);
  assert.equal(t.readTable(12, 4), 1, 'only the mask bit is implemented');
  assert.equal(t.readTable(16, 4), 0xffffffff);
  const dst = new Uint8Array(8);
  t.readTableBytes(16, dst);
  assert.deepEqual(Array.from(dst), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => t.readTable(64, 4), errorWith('EINVAL'));
  assert.throws(() => t.writeTableBytes(60, new Uint8Array(8)), errorWith('EINVAL'));
  assert.throws(() => t.entry(4), errorWith('EINVAL'));
});

test('mask changes are notified: entry bits and the function mask', () => {
  const seen: [number, boolean][] = [];
  const t = new MsixTable(3, { onMaskChange: (v, m) => seen.push([v, m]) });
  t.writeTable(1 * 16 + 12, 4, 0); // unmask 1
  t.writeTable(1 * 16 + 12, 4, 0); // no change
  t.writeTable(2 * 16 + 8, 4, 0x55); // data only
  t.functionMask = true; // masks 1 (0 and 2 already masked)
  t.writeTable(0 * 16 + 12, 1, 0); // entry 0 unmasked but function mask holds it
  t.functionMask = false; // unmasks 0 and 1
  assert.deepEqual(seen, [
    [1, false],
    [1, true],
    [0, false],
    [1, false],
  ]);
  assert.equal(t.vectorMasked(2), true);
});

test('PBA: device-set pending bits, read-only to software', () => {
  const t = new MsixTable(70);
  assert.equal(t.pbaBytes, 16);
  t.setPending(0);
  t.setPending(65);
  assert.equal(t.pending(65), true);
  assert.equal(t.readPba(0, 4), 1);
  assert.equal(t.readPba(8, 1), 2);
  t.writePbaBytes(0, new Uint8Array(8));
  assert.equal(t.readPba(0, 4), 1);
  t.clearPending(0);
  assert.equal(t.pending(0), false);
  const dst = new Uint8Array(16);
  t.readPbaBytes(0, dst);
  assert.equal(dst[8], 2);
  assert.throws(() => t.readPba(16, 1), errorWith('EINVAL'));
  assert.throws(() => t.setPending(70), errorWith('EINVAL'));
  assert.throws(() => new MsixTable(0), errorWith('EINVAL'));
  assert.throws(() => new MsixTable(2049), errorWith('EINVAL'));
});

test('the engine owns a table sized from the capability and passes its hooks', () => {
  const seen: number[] = [];
  const cs = createConfigSpace(NVME, { msixHooks: { onMaskChange: (v) => seen.push(v) } });
  assert.equal(cs.msixTable?.size, 65);
  assert.equal(cs.msixTable?.tableBytes, 65 * 16);
  cs.msixTable!.writeTable(64 * 16 + 12, 4, 0);
  assert.deepEqual(seen, [64]);
});

test('table and PBA placement is validated against the BARs', () => {
  const withMsix = (m: Partial<MsixDecl>, bars: DeviceDecl['bars'] = NVME.bars): DeviceDecl => ({
    ...NVME,
    bars,
    capabilities: [{ id: 'msix', tableSize: 8, table: { bar: 0, offset: 0 }, pba: { bar: 0, offset: 0x800 }, ...m }],
  });
  const cases: [DeviceDecl, string][] = [
    [withMsix({ table: { bar: 2, offset: 0 } }), 'msix-bar'], // BAR2 not implemented
    [withMsix({ pba: { bar: 1, offset: 0 } }), 'msix-bar'], // upper half of the 64-bit BAR0
    [withMsix({}, [{ kind: 'io', size: 256 }]), 'msix-bar'],
    [withMsix({ table: { bar: 0, offset: 4 } }), 'misaligned'],
    [withMsix({ pba: { bar: 0, offset: 0x3ffc } }), 'misaligned'],
    [withMsix({ table: { bar: 0, offset: 0x3f80 + 8 } }), 'msix-bar'], // 128 bytes do not fit
    [withMsix({ pba: { bar: 0, offset: 0x40 } }), 'overlap'],
    [withMsix({ tableSize: 0 }), 'bad-value'],
    [withMsix({ tableSize: 2049 }), 'bad-value'],
    [withMsix({ table: { bar: 7, offset: 0 } }), 'msix-bar'],
  ];
  for (const [decl, reason] of cases) {
    assert.throws(() => createConfigSpace(decl), errorWith('EINVAL', reason), reason);
  }
  // Table and PBA in different BARs is fine.
  const ok = createConfigSpace(
    withMsix({ table: { bar: 0, offset: 0 }, pba: { bar: 2, offset: 0 } }, [
      { kind: 'mem64', size: 4096 },
      undefined,
      { kind: 'mem32', size: 4096 },
    ]),
  );
  assert.equal(ok.msix?.pbaBar, 2);
});
