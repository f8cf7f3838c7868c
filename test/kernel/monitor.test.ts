// The hotplug monitor's pure side (src/vfio/monitor.ts) on hand-built kernel
// uevent datagrams: add, remove, bind, unbind, non-PCI and udev messages
// ignored, malformed ones dropped without throwing; DeviceMonitor's BDF
// filter and next(); the `vfio-ts watch` line formats and its Ctrl-C exit.
// (The real kernel's events: test/sys/netlink.test.ts on the host, and
// test/guest/monitor.test.ts in the guest.)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DeviceMonitor, parsePciEvent, parseUevent, pciEventOf, type PciDeviceEvent } from '../../src/kernel/monitor.js';
import { formatEvent, formatEventJson } from '../../src/cli/watch.js';

const PATH = '/devices/pci0000:00/0000:00:04.0';

/** A kernel datagram: "ACTION@DEVPATH\0" then KEY=VALUE\0 fields. */
function uevent(action: string, devpath: string, env: Record<string, string>, seq = 42): Buffer {
  const fields = [
    `${action}@${devpath}`,
    `ACTION=${action}`,
    `DEVPATH=${devpath}`,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    `SEQNUM=${seq}`,
  ];
  return Buffer.from(fields.join('\0') + '\0', 'latin1');
}
const pci = (extra: Record<string, string> = {}): Record<string, string> => ({
  SUBSYSTEM: 'pci',
  PCI_CLASS: 'FF00',
  PCI_ID: '1234:11E8',
  PCI_SUBSYS_ID: '1AF4:1100',
  PCI_SLOT_NAME: '0000:00:04.0',
  MODALIAS: 'pci:v00001234d000011E8sv00001AF4sd00001100bcFFsc00i00',
  ...extra,
});

test('parseUevent: header, environment and sequence number', () => {
  const u = parseUevent(uevent('add', PATH, pci()));
  assert.ok(u);
  assert.equal(u.action, 'add');
  assert.equal(u.devpath, PATH);
  assert.equal(u.env.SUBSYSTEM, 'pci');
  assert.equal(u.env.PCI_SLOT_NAME, '0000:00:04.0');
  assert.equal(u.env.SEQNUM, '42');
  // A value may contain '=' (only the first one splits).
  assert.equal(parseUevent(uevent('change', '/devices/x', { SUBSYSTEM: 'x', K: 'a=b' }))!.env.K, 'a=b');
});

test('add: `added` with the BDF, vendor/device from PCI_ID, no driver', () => {
  const ev = parsePciEvent(uevent('add', PATH, pci()));
  assert.deepEqual(ev, {
    kind: 'added',
    action: 'add',
    bdf: '0000:00:04.0',
    vendor: 0x1234,
    device: 0x11e8,
    driver: null,
    isVfio: false,
    devpath: PATH,
    seqnum: 42,
  } satisfies PciDeviceEvent);
});

test('remove: `removed`', () => {
  const ev = parsePciEvent(uevent('remove', PATH, pci(), 43))!;
  assert.equal(ev.kind, 'removed');
  assert.equal(ev.bdf, '0000:00:04.0');
  assert.equal(ev.seqnum, 43);
});

test('bind: `bound` with DRIVER; isVfio only for vfio-pci', () => {
  const v = parsePciEvent(uevent('bind', PATH, pci({ DRIVER: 'vfio-pci' })))!;
  assert.equal(v.kind, 'bound');
  assert.equal(v.driver, 'vfio-pci');
  assert.equal(v.isVfio, true);
  const n = parsePciEvent(
    uevent('bind', '/devices/pci0000:00/0000:00:05.0', pci({ DRIVER: 'nvme', PCI_SLOT_NAME: '0000:00:05.0', PCI_ID: '1B36:0010' })),
  )!;
  assert.equal(n.kind, 'bound');
  assert.equal(n.driver, 'nvme');
  assert.equal(n.isVfio, false);
  assert.equal(n.vendor, 0x1b36);
  assert.equal(n.device, 0x0010);
});

test('unbind: `unbound` (the kernel no longer names the driver)', () => {
  const ev = parsePciEvent(uevent('unbind', PATH, pci()))!;
  assert.equal(ev.kind, 'unbound');
  assert.equal(ev.driver, null);
  assert.equal(ev.isVfio, false);
});

test("ignored: other subsystems (a PCI device's children too), other actions, udev's libudev messages", () => {
  assert.equal(parsePciEvent(uevent('add', `${PATH}/vfio-dev/vfio0`, { SUBSYSTEM: 'vfio-dev', MAJOR: '240', MINOR: '0' })), null);
  assert.equal(parsePciEvent(uevent('add', '/devices/virtual/net/lo', { SUBSYSTEM: 'net', INTERFACE: 'lo' })), null);
  assert.equal(parsePciEvent(uevent('change', PATH, pci())), null);
  assert.equal(parsePciEvent(uevent('move', PATH, pci())), null);
  assert.ok(parseUevent(uevent('change', PATH, pci())), 'a change still parses as a uevent');
  const udev = Buffer.concat([
    Buffer.from('libudev\0', 'latin1'),
    Buffer.from([0xfe, 0xed, 0xca, 0xfe, 0, 0, 0, 0x28]),
    uevent('add', PATH, pci()),
  ]);
  assert.equal(parseUevent(udev), null);
  assert.equal(parsePciEvent(udev), null);
});

test('malformed datagrams are dropped, never thrown', () => {
  const bad: Uint8Array[] = [
    new Uint8Array(0),
    Buffer.from('\0\0\0'),
    Buffer.from('add\0SUBSYSTEM=pci\0'), // no '@'
    Buffer.from('@/devices/x\0SUBSYSTEM=pci\0'), // no action
    Buffer.from('add@\0SUBSYSTEM=pci\0'), // no devpath
    Buffer.from('add@devices/x\0SUBSYSTEM=pci\0'), // devpath not absolute
    uevent('add', PATH, pci({ ACTION: 'remove' })), // the env contradicts the header
    Buffer.from([0xff, 0xfe, 0x40, 0x2f, 0x00, 0x80]),
    Buffer.from(`add@${PATH}\0SUBSYSTEM=pci\0PCI_SLOT_NAME=not-a-bdf\0`), // no usable BDF
    Buffer.from(`add@/devices/pci0000:00/whatever\0SUBSYSTEM=pci\0`),
  ];
  for (const d of bad) assert.doesNotThrow(() => parsePciEvent(d));
  for (const d of bad) assert.equal(parsePciEvent(d), null, JSON.stringify(Buffer.from(d).toString('latin1')));
  assert.equal(parseUevent('not bytes' as unknown as Uint8Array), null);
  // Garbage fields are skipped, the rest kept; missing PCI_SLOT_NAME falls back to the devpath; a bad PCI_ID gives nulls.
  const ev = parsePciEvent(Buffer.from(`add@${PATH}\0garbage\0=x\0SUBSYSTEM=pci\0PCI_ID=zz\0`, 'latin1'))!;
  assert.equal(ev.bdf, '0000:00:04.0');
  assert.equal(ev.vendor, null);
  assert.equal(ev.device, null);
  assert.equal(ev.seqnum, null);
  // Truncated (no final NUL) still parses.
  assert.equal(parsePciEvent(uevent('remove', PATH, pci()).subarray(0, -1))?.kind, 'removed');
  assert.equal(pciEventOf({ action: 'add', devpath: PATH, env: {} }), null);
});

test('DeviceMonitor (fed by hand): emits the kind and `event`; the BDF filter; next() and its timeout', async () => {
  const m = new DeviceMonitor(null, { bdf: '00:04.0' });
  assert.deepEqual([...m.filter!], ['0000:00:04.0']);
  const seen: string[] = [];
  m.on('event', (e) => seen.push(`${e.kind} ${e.bdf}`));
  m.on('bound', (e) => seen.push(`bound-listener ${e.driver}`));
  const next = m.next('bound', { bdf: '0000:00:04.0', timeoutMs: 1000 });
  assert.equal(m.feed(uevent('add', PATH, pci()))?.kind, 'added');
  assert.equal(m.feed(uevent('add', '/devices/pci0000:00/0000:00:05.0', pci({ PCI_SLOT_NAME: '0000:00:05.0' }))), null, 'filtered out');
  assert.equal(m.feed(Buffer.from('junk')), null);
  m.feed(uevent('bind', PATH, pci({ DRIVER: 'vfio-pci' })));
  assert.equal((await next).isVfio, true);
  assert.deepEqual(seen, ['added 0000:00:04.0', 'bound-listener vfio-pci', 'bound 0000:00:04.0']);
  await assert.rejects(m.next('removed', { timeoutMs: 20 }), (e: { code?: string }) => e.code === 'ETIMEDOUT');
  assert.equal(m.listenerCount('removed'), 0, 'next() leaves no listener behind');
  assert.throws(
    () => new DeviceMonitor(null, { bdf: 'nope' }),
    (e: { code?: string }) => e.code === 'EINVAL',
  );
  m.close();
  m.close();
});

test('watch line formats: text and JSON', () => {
  const t = new Date('2026-01-02T03:04:05.000Z');
  const ev = parsePciEvent(uevent('bind', PATH, pci({ DRIVER: 'vfio-pci' })))!;
  assert.equal(formatEvent(ev, t), '2026-01-02T03:04:05.000Z bound   0000:00:04.0 1234:11e8 driver vfio-pci (vfio)');
  const rm = parsePciEvent(uevent('remove', PATH, { SUBSYSTEM: 'pci', PCI_SLOT_NAME: '0000:00:04.0' }))!;
  assert.equal(formatEvent(rm, t), '2026-01-02T03:04:05.000Z removed 0000:00:04.0 ????:????');
  assert.deepEqual(JSON.parse(formatEventJson(ev, t)), {
    time: '2026-01-02T03:04:05.000Z',
    event: 'bound',
    bdf: '0000:00:04.0',
    vendor: '1234',
    device: '11e8',
    driver: 'vfio-pci',
    isVfio: true,
    seqnum: 42,
  });
});

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('vfio-ts watch --json: runs until SIGINT, then exits 0 (or fails cleanly where the socket is refused)', {
  timeout: 20_000,
}, async (t) => {
  const child = spawn(process.execPath, [MAIN, 'watch', '--json', '0000:00:04.0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Wait for the banner (the socket is open), then Ctrl-C.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (/PCI device events|EPERM|EACCES|EPROTONOSUPPORT/.test(stderr) || child.exitCode !== null) resolve();
      else setTimeout(check, 20);
    };
    check();
  });
  if (/EPERM|EACCES|EPROTONOSUPPORT/.test(stderr)) {
    t.diagnostic(`uevent socket refused here: ${stderr.trim()}`);
    assert.equal(await exited, 1);
    return;
  }
  assert.match(stderr, /PCI device events of 0000:00:04\.0 \(Ctrl-C ends\)/);
  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
});
