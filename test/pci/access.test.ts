// The access engine: permission rules, splitting, ranges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrnoError } from '../../src/errors.js';
import { createConfigSpace } from '../../src/pci/builder.js';
import { EDU, NVME, errorWith, withSpy } from './fixtures.js';

test('read-only bits keep their value and the write succeeds silently', () => {
  const { cs, spy } = withSpy(NVME);
  const before = cs.snapshot();
  cs.write(0x00, 4, 0xdeadbeef); // vendor/device: virtual RO
  cs.write(0x08, 4, 0xffffffff); // revision + class: RO
  cs.write(0x2c, 4, 0x12345678); // subsystem IDs: RO
  cs.write(0x06, 2, 0xffff); // status: RO
  assert.equal(cs.read(0x00, 4), 0x00101b36);
  assert.equal(cs.read(0x08, 4), 0x01080202);
  assert.equal(cs.read(0x2c, 4), 0x11001af4);
  assert.deepEqual(cs.snapshot(), before);
  // None of those registers has a writable bit: the backing saw no write at all.
  assert.deepEqual(spy.writes(), []);
});

test('virtual bits live in the shadow, the rest in the backing', () => {
  const { cs, spy } = withSpy(NVME);
  // Vendor ID is virtual: a change of the "hardware" does not show.
  spy.set(0x00, 2, 0xffff);
  assert.equal(cs.read(0x00, 2), 0x1b36);
  // The class code is not: the backing shows through.
  spy.set(0x0b, 1, 0x02);
  assert.equal(cs.read(0x0b, 1), 0x02);
  // Interrupt line is virtual and writable: shadow only.
  spy.log = [];
  cs.write(0x3c, 1, 0x0b);
  assert.equal(cs.read(0x3c, 1), 0x0b);
  assert.equal(spy.bytes[0x3c], 0);
  assert.deepEqual(spy.writes(), []);
  // Command: MEMORY is written through (read-modify-write), INTx-disable is virtual.
  cs.write(0x04, 2, 0x0402);
  assert.deepEqual(spy.writes(), [{ op: 'write', offset: 0x04, size: 2, value: 0x0002 }]);
  assert.equal(spy.read(0x04, 2) & 0x0400, 0);
  assert.equal(cs.read(0x04, 2), 0x0402);
});

test('a mixed register reads backing bits outside virt and shadow bits inside', () => {
  const { cs, spy } = withSpy(NVME);
  cs.write(0x04, 2, 0x0400); // INTx disable in the shadow
  spy.set(0x04, 2, 0x0006); // device-side: memory + master in the backing, INTx-disable bit clear
  assert.equal(cs.read(0x04, 2), 0x0406);
  spy.set(0x04, 2, 0x0406); // backing's INTx-disable is ignored: the shadow's counts
  cs.write(0x04, 2, 0x0006);
  assert.equal(cs.read(0x04, 2), 0x0006);
});

test('accesses are split at dword and capability boundaries (4, else 2, else 1, aligned)', () => {
  const { cs, spy } = withSpy({ ...NVME, unassigned: 'raw' });
  // PCIe capability at 0x6c is 0x32 bytes long: it ends at 0x9e, raw bytes follow.
  assert.equal(cs.findCapability(0x10), 0x6c);
  spy.log = [];
  cs.readBytes(0x9b, 8);
  assert.deepEqual(
    spy.log.map((a) => [a.offset, a.size]),
    [
      [0x9b, 1],
      [0x9c, 2],
      [0x9e, 2],
      [0xa0, 2],
      [0xa2, 1],
    ],
  );
  // Inside one capability (AER at 0x100), a 4-byte read at 0x106 is two halves.
  spy.log = [];
  cs.read(0x106, 4);
  assert.deepEqual(
    spy.log.map((a) => [a.offset, a.size]),
    [
      [0x106, 2],
      [0x108, 2],
    ],
  );
});

test('unaligned multi-byte accesses work, byte by byte where needed', () => {
  const { cs, spy } = withSpy(NVME);
  spy.log = [];
  assert.equal(cs.read(0x105, 2), 0x0000);
  assert.deepEqual(
    spy.log.map((a) => [a.offset, a.size]),
    [
      [0x105, 1],
      [0x106, 1],
    ],
  );
  spy.log = [];
  cs.read(0x107, 4);
  assert.deepEqual(
    spy.log.map((a) => [a.offset, a.size]),
    [
      [0x107, 1],
      [0x108, 2],
      [0x10a, 1],
    ],
  );
  // Unaligned read across the vendor/device boundary assembles little-endian bytes.
  assert.equal(cs.read(0x01, 2), 0x101b);
  assert.equal(cs.read(0x03, 4), 0x10000000); // device-ID high byte, command, status low byte (Cap+)
  assert.equal(cs.read(0x3b, 4), 0x00010000);
  assert.deepEqual(Array.from(cs.readBytes(0x3b, 4)), [0x00, 0x00, 0x01, 0x00]);
  // An unaligned write across INTx-line/pin: line changes, pin stays.
  cs.write(0x3b, 4, 0x0000ff00 | 0x00ff0000);
  assert.equal(cs.read(0x3c, 1), 0xff);
  assert.equal(cs.read(0x3d, 1), 1);
});

test('an access beyond the config space is refused with EINVAL before touching anything', () => {
  const edu = createConfigSpace(EDU);
  assert.equal(edu.size, 256);
  assert.throws(() => edu.read(0xfe, 4), errorWith('EINVAL'));
  assert.throws(() => edu.read(0x100, 1), errorWith('EINVAL'));
  assert.throws(() => edu.readBytes(-1, 2), errorWith('EINVAL'));
  assert.throws(() => edu.readBytes(0, 257), errorWith('EINVAL'));
  assert.throws(() => edu.read(0, 3 as 4), errorWith('EINVAL'));
  const before = edu.snapshot();
  assert.throws(
    () => edu.writeBytes(0x3c, new Uint8Array(0xc5)),
    (e: unknown) => e instanceof ErrnoError && e.code === 'EINVAL' && e.errno === 22,
  );
  assert.deepEqual(edu.snapshot(), before, 'a refused write changes nothing');
  const nvme = createConfigSpace(NVME);
  assert.equal(nvme.size, 4096);
  assert.equal(nvme.read(0xffc, 4), 0);
  assert.throws(() => nvme.read(0xffe, 4), errorWith('EINVAL'));
  assert.throws(() => nvme.write(0x1000, 1, 0), errorWith('EINVAL'));
});

test('bytes outside every capability read 0 and drop writes, unless declared raw', () => {
  const { cs, spy } = withSpy(EDU);
  spy.set(0xf0, 4, 0x11223344);
  assert.equal(cs.read(0xf0, 4), 0);
  spy.log = [];
  cs.write(0xf0, 4, 0xffffffff);
  assert.deepEqual(spy.writes(), []);
  // The reserved header bytes 0x35..0x3b are in the header and read-only.
  cs.write(0x38, 4, 0xffffffff);
  assert.equal(cs.read(0x38, 4), 0);

  const raw = withSpy({ ...EDU, unassigned: 'raw' });
  raw.spy.set(0xf0, 4, 0x11223344);
  assert.equal(raw.cs.read(0xf0, 4), 0x11223344);
  raw.cs.write(0xf4, 4, 0xcafef00d);
  assert.equal(raw.spy.read(0xf4, 4), 0xcafef00d);
  assert.equal(raw.cs.read(0xf4, 4), 0xcafef00d);
});

test('byte-range reads and writes of any length match register accesses', () => {
  const cs = createConfigSpace(NVME);
  const all = cs.snapshot();
  assert.equal(all.length, 4096);
  for (const [off, len] of [
    [0, 64],
    [0x3d, 7],
    [0x41, 13],
    [0xfd, 9],
    [0xff0, 16],
  ] as const) {
    assert.deepEqual(cs.readBytes(off, len), all.subarray(off, off + len), `readBytes(${off}, ${len})`);
  }
  const dst = new Uint8Array(6);
  cs.readInto(0x0a, dst);
  assert.deepEqual(Array.from(dst), [0x08, 0x01, 0, 0, 0, 0]);
  cs.writeBytes(0x3c, Uint8Array.of(0x0a));
  assert.equal(cs.interruptLine, 0x0a);
  // A write spanning command and status changes only the writable command bits.
  cs.writeBytes(0x04, Uint8Array.of(0x06, 0x00, 0xff, 0xff));
  assert.equal(cs.command, 0x0006);
  assert.equal(cs.status, 0x0010);
});
