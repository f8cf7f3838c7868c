// Cross-check with a tool nobody here wrote: pciutils' lspci reads our dumps (lspci -F) and its
// decoding must show what we declared. Runs whenever lspci exists and fails loudly; without
// pciutils the tests are skipped with the reason in their name.
//
// lspci cannot print "[size=...]" for a dump: it takes BAR sizes from sysfs, not from config
// space. The sizes are cross-checked the way firmware finds them instead: the BAR is written
// with all ones, dumped, and lspci's decoding of the sizing mask must give the declared size.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createConfigSpace, type DeviceDecl } from '../../src/pci/builder.js';
import { ConfigSpace } from '../../src/pci/config-space.js';
import { decodeConfigSpace } from '../../src/pci/decode.js';
import { formatLspciDump, parseLspciDump } from '../../src/pci/lspci-dump.js';
import * as R from '../../src/pci/regs.js';
import { EDU, NVME } from './fixtures.js';

function findLspci(): string | undefined {
  for (const cmd of ['lspci', '/usr/bin/lspci', '/sbin/lspci', '/usr/sbin/lspci']) {
    const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return cmd;
  }
  return undefined;
}

const LSPCI = findLspci();

if (!LSPCI) {
  test('lspci cross-check SKIPPED: pciutils is not installed (apt-get install -y pciutils)', {
    skip: 'pciutils is not installed',
  }, () => {});
} else {
  const lspci = LSPCI;
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-lspci-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  /** Dump `bytes` to a file and run lspci -F on it. */
  const run = (bytes: Uint8Array, args: string[], length?: 256 | 4096): string => {
    const file = join(dir, `dump-${n++}.txt`);
    writeFileSync(file, formatLspciDump(bytes, { slot: '01:00.0', ...(length ? { length } : {}) }));
    return execFileSync(lspci, ['-F', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  };
  const has = (out: string, line: string): void => {
    assert.ok(out.includes(line), `lspci output lacks ${JSON.stringify(line)}:\n${out}`);
  };
  /** Size from the address lspci prints for a BAR holding its sizing mask. */
  const sizeFromMask = (out: string, region: number): bigint => {
    const m = new RegExp(`Region ${region}: (?:Memory at|I/O ports at) ([0-9a-f]+)`).exec(out);
    assert.ok(m, `no Region ${region} in:\n${out}`);
    const addr = BigInt('0x' + m[1]);
    return addr & -addr;
  };

  test(`lspci (${lspci}) decodes an edu-like device: IDs, class, BAR, MSI, interrupt`, () => {
    const cs = createConfigSpace(EDU);
    cs.write(0x10, 4, 0xfea00000);
    cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    cs.write(R.PCI_INTERRUPT_LINE, 1, 11);
    const out = run(cs.snapshot(), ['-vvv', '-nn'], 256);
    assert.match(out, /^01:00\.0 Unclassified device \[00ff\]: .*\[1234:11e8\] \(rev 10\)/);
    has(out, 'Region 0: Memory at fea00000 (32-bit, non-prefetchable)');
    has(out, 'Capabilities: [40] MSI: Enable- Count=1/1 Maskable- 64bit+');
    has(out, 'Interrupt: pin A routed to IRQ 11');
    // Our decoder's Control/Status lines are lspci's, verbatim.
    const ours = decodeConfigSpace(cs.snapshot()).split('\n');
    for (const l of ours.filter((x) => /^\t(Control|Status):/.test(x))) has(out, l);

    cs.write(0x10, 4, 0xffffffff);
    assert.equal(sizeFromMask(run(cs.snapshot(), ['-vvv']), 0), 1n << 20n, 'lspci sees a 1M sizing mask');
  });

  test('lspci decodes an NVMe-like PCIe device: PM, MSI, MSI-X, Express v2, AER, DSN', () => {
    const cs = createConfigSpace(NVME);
    cs.write(0x10, 4, 0xfebf0000);
    const out = run(cs.snapshot(), ['-vvv', '-nn'], 4096);
    assert.match(out, /^01:00\.0 Non-Volatile memory controller \[0108\]: .*\[1b36:0010\] \(rev 02\) \(prog-if 02/);
    assert.match(out, /Subsystem: .*\[1af4:1100\]/);
    has(out, 'Region 0: Memory at febf0000 (64-bit, non-prefetchable)');
    has(out, 'Capabilities: [40] Power Management version 3');
    has(out, 'Flags: PMEClk- DSI- D1- D2+ AuxCurrent=0mA PME(D0-,D1-,D2-,D3hot-,D3cold-)');
    has(out, 'Status: D0 NoSoftRst+ PME-Enable- DSel=0 DScale=0 PME-');
    has(out, 'Capabilities: [48] MSI: Enable- Count=1/4 Maskable+ 64bit+');
    has(out, 'Capabilities: [60] MSI-X: Enable- Count=65 Masked-');
    has(out, 'Vector table: BAR=0 offset=00002000');
    has(out, 'PBA: BAR=0 offset=00003000');
    has(out, 'Capabilities: [6c] Express (v2) Endpoint, MSI 00');
    assert.match(out, /DevCap:\tMaxPayload 512 bytes/);
    assert.match(out, /RBE\+ FLReset\+/);
    assert.match(out, /LnkCap:\tPort #0, Speed 8GT\/s, Width x4/);
    has(out, 'Capabilities: [100 v2] Advanced Error Reporting');
    has(out, 'Capabilities: [12c v1] Device Serial Number 00-11-22-33-44-55-66-77');
    // Our own decoder agrees on the capability lines lspci prints the same way.
    const ours = decodeConfigSpace(cs.snapshot()).split('\n');
    for (const l of ours.filter((x) => /^\tCapabilities: \[(40|48|60|100 v2|12c v1)\]/.test(x))) has(out, l);
  });

  test('lspci follows the engine state: interrupts enabled, masks, D-state, command', () => {
    const cs = createConfigSpace(NVME);
    cs.setMsiEnabled(4);
    cs.setMsixEnabled(true);
    cs.setMsixFunctionMask(true);
    cs.write(0x40 + R.PCI_PM_CTRL, 2, 3);
    cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER | R.PCI_COMMAND_INTX_DISABLE);
    cs.write(0x6c + R.PCI_EXP_DEVCTL, 2, (1 << 5) | (3 << 12));
    const out = run(cs.snapshot(), ['-vvv'], 4096);
    has(out, 'MSI: Enable+ Count=4/4 Maskable+ 64bit+');
    has(out, 'MSI-X: Enable+ Count=65 Masked+');
    has(out, 'Status: D3 NoSoftRst+');
    assert.match(out, /Control: I\/O- Mem\+ BusMaster\+ .* DisINTx\+/);
    assert.match(out, /MaxPayload 256 bytes, MaxReadReq 1024 bytes/);
  });

  test('lspci sees BAR sizing masks for 64-bit, prefetchable, I/O and ROM BARs', () => {
    const decl: DeviceDecl = {
      vendorId: 0x8086,
      deviceId: 0x10d3,
      classCode: 0x020000,
      bars: [{ kind: 'mem64', size: 16 * 1024 }, undefined, { kind: 'io', size: 32 }, { kind: 'mem32', size: 1 << 16, prefetchable: true }],
      rom: { size: 256 * 1024 },
    };
    const cs = createConfigSpace(decl);
    cs.write(0x10, 4, 0xfe000000);
    cs.write(0x18, 4, 0xc000);
    cs.write(0x1c, 4, 0xfd000000);
    cs.write(R.PCI_ROM_ADDRESS, 4, 0xfeb40000);
    cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_IO);
    const out = run(cs.snapshot(), ['-vvv']);
    has(out, 'Region 0: Memory at fe000000 (64-bit, non-prefetchable)');
    has(out, 'Region 2: I/O ports at c000');
    has(out, 'Region 3: Memory at fd000000 (32-bit, prefetchable)');
    has(out, 'Expansion ROM at feb40000 [disabled]');
    for (const off of [0x10, 0x14, 0x18, 0x1c]) cs.write(off, 4, 0xffffffff);
    cs.write(R.PCI_ROM_ADDRESS, 4, R.PCI_ROM_ADDRESS_MASK);
    const sized = run(cs.snapshot(), ['-vvv']);
    has(sized, 'Region 0: Memory at ffffffffffffc000 (64-bit, non-prefetchable)');
    assert.equal(sizeFromMask(sized, 0), 16n * 1024n);
    assert.equal(sizeFromMask(sized, 2), 32n);
    assert.equal(sizeFromMask(sized, 3), 1n << 16n);
    const rom = /Expansion ROM at ([0-9a-f]+)/.exec(sized);
    assert.ok(rom, sized);
    const romAddr = BigInt('0x' + rom[1]);
    assert.equal(romAddr & -romAddr, 256n * 1024n);
  });

  test('lspci reads back exactly the bytes we dumped (-xxxx round trip)', () => {
    const cs = createConfigSpace(NVME);
    cs.write(0x10, 4, 0xfebf0000);
    const bytes = cs.snapshot();
    const parsed = parseLspciDump(run(bytes, ['-xxxx'], 4096));
    assert.equal(parsed.length, 1);
    assert.deepEqual(parsed[0]!.slot, { bus: 1, device: 0, function: 0 });
    assert.deepEqual(parsed[0]!.bytes, bytes);
    const small = parseLspciDump(run(createConfigSpace(EDU).snapshot(), ['-xxx'], 256));
    assert.equal(small[0]!.bytes.length, 256);
  });

  test('lspci does not see capabilities the engine hides', () => {
    const raw = createConfigSpace(NVME).snapshot();
    const dv = new DataView(raw.buffer);
    // Insert a slot-ID capability (hidden by the kernel) between PM and MSI, and PASID after AER.
    raw.set([R.PCI_CAP_ID_SLOTID, 0x48, 0, 0], 0xa0);
    raw[0x41] = 0xa0;
    dv.setUint32(0x200, (R.PCI_EXT_CAP_ID_PASID | (1 << 16) | (0x12c << 20)) >>> 0, true);
    dv.setUint32(0x100, ((dv.getUint32(0x100, true) & 0x000fffff) | (0x200 << 20)) >>> 0, true);
    const before = run(raw, ['-vvv'], 4096);
    has(before, 'Capabilities: [a0] Slot ID');
    has(before, 'Capabilities: [200 v1] Process Address Space ID (PASID)');
    const presented = ConfigSpace.fromRaw(raw).snapshot();
    const out = run(presented, ['-vvv'], 4096);
    assert.ok(!out.includes('Slot ID'), out);
    assert.ok(!out.includes('PASID'), out);
    has(out, 'Capabilities: [40] Power Management version 3');
    has(out, 'Capabilities: [48] MSI: Enable- Count=1/4 Maskable+ 64bit+');
    has(out, 'Capabilities: [100 v2] Advanced Error Reporting');
    has(out, 'Capabilities: [12c v1] Device Serial Number 00-11-22-33-44-55-66-77');
  });
}
