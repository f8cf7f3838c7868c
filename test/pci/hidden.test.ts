// Raw config spaces: only allowed capabilities are presented, chains are relinked around hidden ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigSpace } from '../../src/pci/config-space.js';
import * as R from '../../src/pci/regs.js';
import { errorWith } from './fixtures.js';

/** A raw 4096-byte space built byte by byte, as hardware would hold it. */
function rawSpace(): Uint8Array {
  const b = new Uint8Array(4096);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0x8086, true);
  dv.setUint16(2, 0x1234, true);
  dv.setUint16(R.PCI_STATUS, R.PCI_STATUS_CAP_LIST, true);
  b[R.PCI_CAPABILITY_LIST] = 0x40;
  b.set([R.PCI_CAP_ID_PM, 0x48, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00], 0x40); // PM
  b.set([R.PCI_CAP_ID_SLOTID, 0x50, 0x00, 0x00], 0x48); // hidden by the kernel
  b.set([R.PCI_CAP_ID_MSI, 0x5c, 0x00, 0x00], 0x50); // 32-bit MSI, 10 bytes
  b.set([0x20, 0x60, 0xaa, 0xbb], 0x5c); // unknown ID: hidden
  b.set([R.PCI_CAP_ID_VNDR, 0x00, 0x04, 0x77], 0x60); // vendor, 4 bytes
  const ext = (at: number, id: number, ver: number, next: number): void => dv.setUint32(at, (id | (ver << 16) | (next << 20)) >>> 0, true);
  ext(0x100, R.PCI_EXT_CAP_ID_ERR, 2, 0x140);
  ext(0x140, R.PCI_EXT_CAP_ID_PASID, 1, 0x150); // hidden (the kernel does not present PASID)
  ext(0x150, R.PCI_EXT_CAP_ID_DSN, 1, 0x160);
  dv.setUint32(0x154, 0x89abcdef, true);
  ext(0x160, R.PCI_EXT_CAP_ID_L1SS, 1, 0); // hidden
  return b;
}

/** Walk the standard chain through the engine, as a driver would. */
function walkStd(cs: ConfigSpace): number[] {
  const out: number[] = [];
  if (!(cs.read(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST)) return out;
  for (let pos = cs.read(R.PCI_CAPABILITY_LIST, 1); pos && out.length < 64; pos = cs.read(pos + 1, 1)) out.push(pos);
  return out;
}

function walkExt(cs: ConfigSpace): [number, number][] {
  const out: [number, number][] = [];
  for (let pos = 0x100; pos && out.length < 64; ) {
    const h = cs.read(pos, 4);
    if (!h) break;
    out.push([pos, R.PCI_EXT_CAP_ID(h)]);
    pos = R.PCI_EXT_CAP_NEXT(h);
  }
  return out;
}

test('hidden standard capabilities are linked around', () => {
  const cs = ConfigSpace.fromRaw(rawSpace());
  assert.deepEqual(walkStd(cs), [0x40, 0x50, 0x60]);
  assert.deepEqual(
    cs.capabilities.filter((c) => !c.extended).map((c) => [c.id, c.offset]),
    [
      [R.PCI_CAP_ID_PM, 0x40],
      [R.PCI_CAP_ID_MSI, 0x50],
      [R.PCI_CAP_ID_VNDR, 0x60],
    ],
  );
  // The hidden bytes themselves are unassigned: raw by default (the kernel's), zero on request.
  assert.equal(cs.read(0x48, 4), 0x00005004);
  const zero = ConfigSpace.fromRaw(rawSpace(), { unassigned: 'zero' });
  assert.equal(zero.read(0x48, 4), 0);
  assert.deepEqual(walkStd(zero), [0x40, 0x50, 0x60]);
});

test('hidden extended capabilities are linked around', () => {
  const cs = ConfigSpace.fromRaw(rawSpace());
  assert.deepEqual(walkExt(cs), [
    [0x100, R.PCI_EXT_CAP_ID_ERR],
    [0x150, R.PCI_EXT_CAP_ID_DSN],
  ]);
  assert.equal(R.PCI_EXT_CAP_VER(cs.read(0x100, 4)), 2, 'version nibble kept');
  assert.equal(cs.read(0x154, 4), 0x89abcdef);
  assert.equal(cs.findExtendedCapability(R.PCI_EXT_CAP_ID_PASID), undefined);
});

test('a hidden first extended capability stays as a zeroed header that keeps its next pointer', () => {
  const raw = rawSpace();
  const dv = new DataView(raw.buffer);
  dv.setUint32(0x100, (R.PCI_EXT_CAP_ID_PTM | (1 << 16) | (0x150 << 20)) >>> 0, true);
  const cs = ConfigSpace.fromRaw(raw);
  assert.equal(cs.read(0x100, 4), (0x150 << 20) >>> 0);
  assert.deepEqual(walkExt(cs), [
    [0x100, 0],
    [0x150, R.PCI_EXT_CAP_ID_DSN],
  ]);
  assert.equal(R.PCI_EXT_CAP_NEXT(cs.read(0x100, 4)), 0x150);
  assert.equal(R.PCI_EXT_CAP_ID(cs.read(0x150, 4)), R.PCI_EXT_CAP_ID_DSN);
  assert.equal(R.PCI_EXT_CAP_NEXT(cs.read(0x150, 4)), 0, 'the hidden L1SS after DSN is unlinked');
  assert.deepEqual(
    cs.capabilities.filter((c) => c.extended).map((c) => c.id),
    [R.PCI_EXT_CAP_ID_DSN],
  );
});

test('when every extended capability is hidden the dword at 0x100 reads 0', () => {
  const raw = rawSpace();
  const dv = new DataView(raw.buffer);
  dv.setUint32(0x100, (R.PCI_EXT_CAP_ID_PTM | (1 << 16) | (0x140 << 20)) >>> 0, true);
  dv.setUint32(0x140, (R.PCI_EXT_CAP_ID_PASID | (1 << 16)) >>> 0, true);
  const cs = ConfigSpace.fromRaw(raw);
  assert.equal(cs.read(0x100, 4), 0);
});

test('when every standard capability is hidden, Cap+ is cleared and the pointer reads 0', () => {
  const raw = rawSpace();
  raw[R.PCI_CAPABILITY_LIST] = 0x48;
  raw[0x49] = 0x5c;
  raw[0x5d] = 0;
  const cs = ConfigSpace.fromRaw(raw);
  assert.equal(cs.status & R.PCI_STATUS_CAP_LIST, 0);
  assert.equal(cs.read(R.PCI_CAPABILITY_LIST, 1), 0);
  assert.deepEqual(walkStd(cs), []);
});

test('the owner may hide more than the kernel does', () => {
  const cs = ConfigSpace.fromRaw(rawSpace(), {
    hide: (c) => (!c.extended && c.id === R.PCI_CAP_ID_MSI) || (c.extended && c.id === R.PCI_EXT_CAP_ID_DSN),
  });
  assert.deepEqual(walkStd(cs), [0x40, 0x60]);
  assert.deepEqual(walkExt(cs), [[0x100, R.PCI_EXT_CAP_ID_ERR]]);
  assert.equal(cs.hasMsi, false);
});

test('presented capabilities keep their rules in a raw space', () => {
  const resets: string[] = [];
  const cs = ConfigSpace.fromRaw(rawSpace(), { hooks: { onReset: (s) => resets.push(s) } });
  cs.write(0x50 + R.PCI_MSI_FLAGS, 2, R.PCI_MSI_FLAGS_ENABLE);
  assert.equal(cs.msi?.enabled, false);
  cs.write(0x40 + R.PCI_PM_CTRL, 2, 3);
  assert.equal(cs.powerState, 3);
  // Without BAR geometry, BARs read 0 like unmapped ones.
  cs.write(0x10, 4, 0xffffffff);
  assert.equal(cs.read(0x10, 4), 0);
  const sized = ConfigSpace.fromRaw(rawSpace(), { bars: [{ kind: 'mem32', size: 4096 }] });
  sized.write(0x10, 4, 0xffffffff);
  assert.equal(sized.read(0x10, 4), 0xfffff000);
});

test('looping chains are cut; bad sizes and header types are refused', () => {
  const raw = rawSpace();
  raw[0x61] = 0x40; // vendor cap points back to PM
  const dv = new DataView(raw.buffer);
  dv.setUint32(0x150, (R.PCI_EXT_CAP_ID_DSN | (1 << 16) | (0x100 << 20)) >>> 0, true);
  const cs = ConfigSpace.fromRaw(raw);
  assert.deepEqual(walkStd(cs), [0x40, 0x50, 0x60]);
  assert.deepEqual(walkExt(cs), [
    [0x100, R.PCI_EXT_CAP_ID_ERR],
    [0x150, R.PCI_EXT_CAP_ID_DSN],
  ]);
  assert.throws(() => ConfigSpace.fromRaw(new Uint8Array(100)), errorWith('EINVAL'));
  const bridge = new Uint8Array(256);
  bridge[R.PCI_HEADER_TYPE] = 1;
  assert.throws(() => ConfigSpace.fromRaw(bridge), errorWith('EINVAL'));
});
