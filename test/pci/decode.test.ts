// Human decoding and the lspci hex dump format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/builder.js';
import { className, decodeConfigSpace, decodeWithProbe, describeConfigSpace } from '../../src/pci/decode.js';
import { formatLspciDump, formatSlot, parseLspciDump, parseSlot } from '../../src/pci/lspci-dump.js';
import * as R from '../../src/pci/regs.js';
import { EDU, NVME, errorWith } from './fixtures.js';

test('an engine is described with IDs, class, flags, BAR sizes and every capability', () => {
  const cs = createConfigSpace(NVME);
  cs.write(0x10, 4, 0xfebf0000);
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
  cs.write(R.PCI_INTERRUPT_LINE, 1, 11);
  cs.setMsiEnabled(4);
  const text = describeConfigSpace(cs, { slot: '01:00.0' });
  const expected = [
    '01:00.0 Non-Volatile memory controller [0108]: Device 1b36:0010 (rev 02) (prog-if 02)',
    '\tSubsystem: Device 1af4:1100',
    '\tControl: I/O- Mem+ BusMaster- SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx-',
    '\tStatus: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-',
    '\tInterrupt: pin A routed to IRQ 11',
    '\tRegion 0: Memory at febf0000 (64-bit, non-prefetchable) [size=16K]',
    '\tCapabilities: [40] Power Management version 3',
    '\t\tFlags: PMEClk- DSI- D1- D2+ AuxCurrent=0mA PME(D0-,D1-,D2-,D3hot-,D3cold-)',
    '\t\tStatus: D0 NoSoftRst+ PME-Enable- DSel=0 DScale=0 PME-',
    '\tCapabilities: [48] MSI: Enable+ Count=4/4 Maskable+ 64bit+',
    '\tCapabilities: [60] MSI-X: Enable- Count=65 Masked-',
    '\t\tVector table: BAR=0 offset=00002000',
    '\t\tPBA: BAR=0 offset=00003000',
    '\tCapabilities: [6c] Express (v2) Endpoint, MSI 00',
    '\t\tDevCap:\tMaxPayload 512 bytes, PhantFunc 0',
    '\t\tLnkCap:\tPort #0, Speed 8GT/s, Width x4, ASPM not supported',
    '\tCapabilities: [100 v2] Advanced Error Reporting',
    '\tCapabilities: [12c v1] Device Serial Number 00-11-22-33-44-55-66-77',
  ];
  const lines = text.split('\n');
  for (const e of expected) assert.ok(lines.includes(e), `missing line: ${JSON.stringify(e)}\n${text}`);
});

test('raw decoding shows what the bytes say: no sizes unless given', () => {
  const cs = createConfigSpace(EDU);
  cs.write(0x10, 4, 0xfea00000);
  const bytes = cs.snapshot();
  assert.match(decodeConfigSpace(bytes), /Region 0: Memory at fea00000 \(32-bit, non-prefetchable\)\n/);
  assert.match(decodeConfigSpace(bytes, { barSizes: [1 << 20] }), /Region 0: Memory at fea00000 \(32-bit, non-prefetchable\) \[size=1M\]/);
  assert.match(decodeConfigSpace(bytes), /^00:00.0 Unclassified device \[00ff\]: Device 1234:11e8 \(rev 10\)/);
  assert.match(decodeConfigSpace(bytes), /Capabilities: \[40\] MSI: Enable- Count=1\/1 Maskable- 64bit\+/);
});

test('decodeWithProbe finds BAR sizes through any accessor and leaves the BARs as they were', () => {
  const cs = createConfigSpace({ ...NVME, rom: { size: 64 * 1024 } });
  cs.write(0x10, 4, 0xfebf0000);
  const before = cs.snapshot();
  const text = decodeWithProbe(cs, { size: 4096, slot: '02:00.0' });
  assert.deepEqual(cs.snapshot(), before);
  assert.match(text, /^02:00.0 /);
  assert.match(text, /Region 0: Memory at febf0000 \(64-bit, non-prefetchable\) \[size=16K\]/);
  assert.match(text, /Expansion ROM at <unassigned> \[disabled\] \[size=64K\]/);
  assert.match(text, /Capabilities: \[12c v1\] Device Serial Number/);
});

test('decoding survives any bytes: short buffers, loops, garbage', () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed & 0xff;
  };
  for (let n = 0; n < 200; n++) {
    const b = Uint8Array.from({ length: n % 2 ? 4096 : 256 }, rnd);
    assert.equal(typeof decodeConfigSpace(b), 'string');
  }
  assert.match(decodeConfigSpace(new Uint8Array(64)), /^00:00.0 Non-VGA unclassified device \[0000\]: Device 0000:0000\n/);
  const loop = new Uint8Array(4096);
  loop[R.PCI_STATUS] = R.PCI_STATUS_CAP_LIST;
  loop[R.PCI_CAPABILITY_LIST] = 0x40;
  loop.set([0x09, 0x40, 0x04, 0x00], 0x40);
  new DataView(loop.buffer).setUint32(0x100, (0x0b | (1 << 16) | (0x100 << 20)) >>> 0, true);
  const text = decodeConfigSpace(loop);
  assert.match(text, /\[40\] <chain loops>/);
  assert.match(text, /\[100\] <chain loops>/);
  const bridge = new Uint8Array(256);
  bridge[R.PCI_HEADER_TYPE] = 1;
  bridge[R.PCI_CLASS_DEVICE] = 4;
  bridge[R.PCI_CLASS_DEVICE + 1] = 6;
  bridge[R.PCI_SECONDARY_BUS] = 1;
  assert.match(decodeConfigSpace(bridge), /PCI bridge \[0604\].*\n\tHeader type 1 \(PCI-to-PCI bridge\)[\s\S]*secondary=01/);
  assert.match(decodeConfigSpace(new Uint8Array(256).fill(0xff)), /No device/);
});

test('class names follow lspci wording', () => {
  assert.equal(className(0x0108), 'Non-Volatile memory controller');
  assert.equal(className(0x0200), 'Ethernet controller');
  assert.equal(className(0x00ff), 'Unclassified device');
  assert.equal(className(0x0c03), 'USB controller');
  assert.equal(className(0x7700), 'Class 7700');
});

test('dumps use the lspci -x/-xxx/-xxxx layout', () => {
  const cs = createConfigSpace(NVME);
  const full = formatLspciDump(cs.snapshot(), { slot: '0000:01:00.0' });
  const lines = full.split('\n');
  assert.equal(lines[0], '0000:01:00.0 Non-Volatile memory controller [0108]: Device 1b36:0010 (rev 02)');
  assert.equal(lines[1], '00: 36 1b 10 00 00 00 10 00 02 02 08 01 00 00 00 00');
  assert.equal(lines[17], '100: 01 00 c2 12 00 00 00 00 00 00 00 00 30 20 46 00');
  assert.equal(lines.length, 1 + 256 + 2);
  assert.equal(lines.at(-2), '');
  assert.ok(full.endsWith('\n\n'));
  for (const l of lines.slice(1, -2)) assert.match(l, /^[0-9a-f]{2,3}: ([0-9a-f]{2} ){15}[0-9a-f]{2}$/);
  assert.equal(formatLspciDump(cs.snapshot(), { length: 64 }).split('\n').length, 1 + 4 + 2);
  assert.equal(formatLspciDump(cs.snapshot(), { length: 256, description: 'x' }).split('\n')[0], '00:00.0 x');
  assert.throws(() => formatLspciDump(new Uint8Array(256), { length: 4096 }), errorWith('EINVAL'));
  assert.throws(() => formatLspciDump(new Uint8Array(256), { slot: 'nope' }), errorWith('EINVAL'));
});

test('dumps parse back, several devices per file', () => {
  const a = createConfigSpace(EDU).snapshot();
  const b = createConfigSpace(NVME).snapshot();
  const text = formatLspciDump(a, { slot: '00:03.0' }) + formatLspciDump(b, { slot: { domain: 1, bus: 2, device: 3, function: 4 } });
  const parsed = parseLspciDump(text);
  assert.equal(parsed.length, 2);
  assert.deepEqual(parsed[0]!.slot, { bus: 0, device: 3, function: 0 });
  assert.deepEqual(parsed[0]!.bytes, a);
  assert.deepEqual(parsed[1]!.slot, { domain: 1, bus: 2, device: 3, function: 4 });
  assert.deepEqual(parsed[1]!.bytes, b);
  assert.equal(formatSlot({ bus: 0x1f, device: 0x1f, function: 7 }), '1f:1f.7');
  assert.equal(parseSlot('zz:00.0'), undefined);
});
