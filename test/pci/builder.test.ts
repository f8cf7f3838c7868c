// The builder: placement, chains, defaults, and errors for impossible layouts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrnoError } from '../../src/errors.js';
import { buildLayout, createConfigSpace, type CapabilityDecl, type DeviceDecl } from '../../src/pci/builder.js';
import { LayoutError } from '../../src/pci/layout-error.js';
import * as R from '../../src/pci/regs.js';
import { EDU, NVME, errorWith } from './fixtures.js';

test('automatic placement: dword aligned from 0x40, chained in declaration order', () => {
  const cs = createConfigSpace(NVME);
  const std = cs.capabilities.filter((c) => !c.extended);
  assert.deepEqual(
    std.map((c) => [c.id, c.offset]),
    [
      [R.PCI_CAP_ID_PM, 0x40],
      [R.PCI_CAP_ID_MSI, 0x48],
      [R.PCI_CAP_ID_MSIX, 0x60],
      [R.PCI_CAP_ID_EXP, 0x6c],
    ],
  );
  assert.equal(cs.read(R.PCI_CAPABILITY_LIST, 1), 0x40);
  assert.deepEqual(
    std.map((c) => [cs.read(c.offset, 1), cs.read(c.offset + 1, 1)]),
    [
      [R.PCI_CAP_ID_PM, 0x48],
      [R.PCI_CAP_ID_MSI, 0x60],
      [R.PCI_CAP_ID_MSIX, 0x6c],
      [R.PCI_CAP_ID_EXP, 0x00],
    ],
  );
  for (const c of std) assert.equal(c.offset % 4, 0);
});

test('extended capabilities start at 0x100 with version nibble and 12-bit next pointers', () => {
  const cs = createConfigSpace(NVME);
  const aer = cs.read(0x100, 4);
  assert.equal(R.PCI_EXT_CAP_ID(aer), R.PCI_EXT_CAP_ID_ERR);
  assert.equal(R.PCI_EXT_CAP_VER(aer), 2);
  assert.equal(R.PCI_EXT_CAP_NEXT(aer), 0x12c);
  const dsn = cs.read(0x12c, 4);
  assert.equal(R.PCI_EXT_CAP_ID(dsn), R.PCI_EXT_CAP_ID_DSN);
  assert.equal(R.PCI_EXT_CAP_VER(dsn), 1);
  assert.equal(R.PCI_EXT_CAP_NEXT(dsn), 0);
  // Far placement needs all 12 bits of the pointer.
  const far = createConfigSpace({ ...NVME, extendedCapabilities: [{ id: 'aer' }, { id: 'dsn', serial: 1n, offset: 0xff0 }] });
  assert.equal(R.PCI_EXT_CAP_NEXT(far.read(0x100, 4)), 0xff0);
});

test('explicit offsets are honoured, others fill the gaps; the chain keeps declaration order', () => {
  const caps: CapabilityDecl[] = [
    { id: 'msi', offset: 0x80 },
    { id: 'pm' },
    { id: 'vendor', data: new Array(60).fill(1) }, // 63 bytes -> 64 reserved: does not fit before 0x80 after PM
    { id: 'af', offset: 0x40 },
  ];
  const cs = createConfigSpace({ ...EDU, capabilities: caps });
  assert.deepEqual(
    cs.capabilities.map((c) => [c.id, c.offset]),
    [
      [R.PCI_CAP_ID_MSI, 0x80],
      [R.PCI_CAP_ID_PM, 0x48],
      [R.PCI_CAP_ID_VNDR, 0x90],
      [R.PCI_CAP_ID_AF, 0x40],
    ],
  );
  assert.equal(cs.read(R.PCI_CAPABILITY_LIST, 1), 0x80);
  assert.equal(cs.read(0x81, 1), 0x48);
  assert.equal(cs.read(0x49, 1), 0x90);
  assert.equal(cs.read(0x91, 1), 0x40);
  assert.equal(cs.read(0x41, 1), 0x00);
});

test('default sizes: 256 for conventional, 4096 with PCIe or extended capabilities', () => {
  assert.equal(buildLayout(EDU).size, 256);
  assert.equal(buildLayout(NVME).size, 4096);
  assert.equal(buildLayout({ ...EDU, capabilities: [{ id: 'pcie' }] }).size, 4096);
  const nocap = createConfigSpace({ ...NVME, capabilities: [], extendedCapabilities: [], configSize: 4096 });
  assert.equal(nocap.read(0x100, 4), 0, 'no extended capabilities: 0 at 0x100');
});

test('class code as a number or as parts', () => {
  assert.equal(createConfigSpace({ ...EDU, classCode: 0x020000 }).classCode, 0x020000);
  assert.equal(createConfigSpace({ ...EDU, classCode: { base: 3, sub: 0 } }).classCode, 0x030000);
});

test('impossible layouts throw LayoutErrors with stable codes and reasons', () => {
  const cases: [Partial<DeviceDecl>, string, string][] = [
    [
      {
        capabilities: [
          { id: 'pm', offset: 0x40 },
          { id: 'msi', offset: 0x44 },
        ],
      },
      'EINVAL',
      'overlap',
    ],
    [{ capabilities: [{ id: 'pm', offset: 0x42 }] }, 'EINVAL', 'misaligned'],
    [{ capabilities: [{ id: 'pm', offset: 0x3c }] }, 'EINVAL', 'out-of-range'],
    [{ capabilities: [{ id: 'pm', offset: 0xfc }] }, 'EINVAL', 'out-of-range'],
    [{ capabilities: new Array(4).fill({ id: 'vendor', data: new Array(60).fill(0) }) }, 'ENOSPC', 'no-room'],
    [{ extendedCapabilities: [{ id: 'aer' }], configSize: 256 }, 'EINVAL', 'ext-on-conventional'],
    [{ configSize: 4096, extendedCapabilities: [{ id: 'aer', offset: 0x200 }] }, 'EINVAL', 'ext-head'],
    [{ configSize: 4096, extendedCapabilities: [{ id: 'aer' }, { id: 'dsn', serial: 1n, offset: 0xffc }] }, 'EINVAL', 'out-of-range'],
    [
      {
        configSize: 4096,
        extendedCapabilities: [
          { id: 'aer', offset: 0x100 },
          { id: 'dsn', serial: 1n, offset: 0x110 },
        ],
      },
      'EINVAL',
      'overlap',
    ],
    [{ capabilities: [{ id: 'msi' }, { id: 'msi' }] }, 'EINVAL', 'duplicate'],
    [
      {
        configSize: 4096,
        extendedCapabilities: [
          { id: 'dsn', serial: 1n },
          { id: 'dsn', serial: 2n },
        ],
      },
      'EINVAL',
      'duplicate',
    ],
    [{ vendorId: 0xffff }, 'EINVAL', 'bad-value'],
    [{ deviceId: 0x10000 }, 'EINVAL', 'bad-value'],
    [{ classCode: 0x1000000 }, 'EINVAL', 'bad-value'],
    [{ interruptPin: 5 }, 'EINVAL', 'bad-value'],
    [{ revision: 256 }, 'EINVAL', 'bad-value'],
    [{ configSize: 512 as 256 }, 'EINVAL', 'bad-value'],
    [{ capabilities: [{ id: 'bogus' } as unknown as CapabilityDecl] }, 'EINVAL', 'bad-value'],
    [{ capabilities: [{ id: 'pcie', maxPayload: 100 }] }, 'EINVAL', 'bad-value'],
    [{ capabilities: [{ id: 'pm', version: 9 }] }, 'EINVAL', 'bad-value'],
  ];
  for (const [patch, code, reason] of cases) {
    assert.throws(
      () => buildLayout({ ...EDU, capabilities: [], ...patch }),
      (e: unknown) =>
        e instanceof LayoutError && e instanceof ErrnoError && e.code === code && e.reason === reason && typeof e.errno === 'number',
      `${reason}: ${JSON.stringify(patch, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
  }
  assert.throws(
    () => buildLayout({ ...EDU, capabilities: new Array(4).fill({ id: 'vendor', data: new Array(60).fill(0) }) }),
    errorWith('ENOSPC', 'no-room'),
  );
});

test('a full standard area is usable to its last dword', () => {
  const caps: CapabilityDecl[] = [];
  for (let i = 0; i < 48; i++) caps.push({ id: 'vendor', data: [i] });
  const cs = createConfigSpace({ ...EDU, capabilities: caps });
  assert.equal(cs.capabilities.length, 48);
  assert.equal(cs.capabilities[47]!.offset, 0xfc);
  assert.throws(() => buildLayout({ ...EDU, capabilities: [...caps, { id: 'vendor', data: [] }] }), errorWith('ENOSPC', 'no-room'));
});
