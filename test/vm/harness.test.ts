// The guest harness, for real: boots QEMU guests and checks what a test run in
// them can rely on - an unprivileged user, /dev/vfio with edu and nvme bound to
// vfio-pci and their group files openable by that user, RLIMIT_MEMLOCK raised,
// the host's node and checkout - and that exit codes, output and timeouts come
// back as they should. Skipped, with the reason in the test name, where no
// guest can be booted (no qemu-system-x86, kernel or busybox-static).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestError, guestAvailable, runInGuest, runningGuests } from '../../vm/harness.js';
import { GUEST_DEVICES } from '../../vm/qemu.js';

const avail = guestAvailable();
const skip = avail.ok ? false : `no test guest: ${avail.reason}`;
const suffix = avail.ok ? '' : ` (SKIPPED: no test guest: ${avail.reason})`;
const BOOT_TEST_TIMEOUT = 240_000;

// Run in the guest as the unprivileged user; prints one JSON line.
const CHECK = `
const fs = require('node:fs');
const path = require('node:path');
const read = (p) => fs.readFileSync(p, 'utf8').trim();
const tryOpen = (p) => { try { fs.closeSync(fs.openSync(p, 'r+')); return 'ok'; } catch (e) { return e.code; } };
const devices = {};
for (const [name, bdf] of [['edu', process.env.VFIO_TS_GUEST_EDU], ['nvme', process.env.VFIO_TS_GUEST_NVME]]) {
  const d = '/sys/bus/pci/devices/' + bdf;
  const group = path.basename(fs.readlinkSync(d + '/iommu_group'));
  devices[name] = {
    bdf,
    driver: path.basename(fs.readlinkSync(d + '/driver')),
    vendor: read(d + '/vendor'),
    device: read(d + '/device'),
    group,
    groupOpen: tryOpen('/dev/vfio/' + group),
  };
}
let cwdWrite;
try { fs.writeFileSync('vfio-ts-vm-write-probe', 'x'); cwdWrite = 'ok'; } catch (e) { cwdWrite = e.code; }
fs.writeFileSync('/tmp/probe', 'x');
console.log(JSON.stringify({
  uid: process.getuid(),
  gid: process.getgid(),
  groups: process.getgroups(),
  node: process.version,
  cwd: process.cwd(),
  cwdWrite,
  container: tryOpen('/dev/vfio/vfio'),
  memlock: read('/proc/self/limits').split('\\n').find((l) => l.startsWith('Max locked memory')),
  nvmeDriverLoaded: fs.existsSync('/sys/module/nvme'),
  guestEnv: process.env.VFIO_TS_GUEST,
  devices,
}));
`;

test(`guest: unprivileged user, devices bound to vfio-pci, group files openable, memlock raised${suffix}`, {
  skip,
  timeout: BOOT_TEST_TIMEOUT,
}, async (t) => {
  const cwd = process.cwd();
  const r = await runInGuest({ command: ['node', '-e', CHECK], cwd, timeoutMs: 180_000 });
  t.diagnostic(`guest boot ${r.bootMs} ms (QEMU start to command start), whole run ${r.totalMs} ms`);
  assert.equal(r.exitCode, 0, `stderr:\n${r.stderr}\nconsole:\n${r.console.slice(-3000)}`);
  const c = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.notEqual(c.uid, 0, 'runs as a non-root user');
  assert.equal(c.uid, 1000);
  assert.equal(c.gid, 1000);
  assert.deepEqual(c.groups, [1000]);
  assert.equal(c.node, process.version, "the host's own node");
  assert.equal(c.cwd, cwd, "the host's checkout, same path");
  assert.equal(c.cwdWrite, 'EROFS', 'the host root is read-only');
  assert.equal(c.container, 'ok', '/dev/vfio/vfio opens');
  assert.match(c.memlock, /^Max locked memory\s+unlimited\s+unlimited\s+bytes/);
  assert.equal(c.nvmeDriverLoaded, false, 'no nvme driver in the guest');
  assert.equal(c.guestEnv, '1');
  for (const [name, want] of Object.entries(GUEST_DEVICES)) {
    const d = c.devices[name];
    assert.equal(d.bdf, want.bdf);
    assert.equal(d.driver, 'vfio-pci', `${name} bound to vfio-pci`);
    assert.equal(d.vendor, `0x${want.vendor.toString(16).padStart(4, '0')}`, `${name} vendor`);
    assert.equal(d.device, `0x${want.device.toString(16).padStart(4, '0')}`, `${name} device`);
    assert.equal(d.groupOpen, 'ok', `/dev/vfio/${d.group} (${name}) opens as the user`);
  }
  assert.notEqual(c.devices.edu.group, c.devices.nvme.group, 'one IOMMU group each');
  assert.match(r.console, /vfio-ts-vm: bound 0000:00:04\.0 1234:11e8 group \d+/);
});

test(`guest: a failing command's exit code, stdout and stderr come back (as root)${suffix}`, {
  skip,
  timeout: BOOT_TEST_TIMEOUT,
}, async () => {
  const r = await runInGuest({ command: ['sh', '-c', 'id -u; echo "to stderr" >&2; exit 3'], asRoot: true, timeoutMs: 180_000 });
  assert.equal(r.exitCode, 3);
  assert.equal(r.stdout, '0\n');
  assert.equal(r.stderr, 'to stderr\n');
});

test(`guest: a command that hangs is killed at the timeout with a clear error${suffix}`, { skip, timeout: BOOT_TEST_TIMEOUT }, async () => {
  const started = Date.now();
  const err = await runInGuest({ command: ['sh', '-c', 'echo started; exec sleep 1000'], timeoutMs: 30_000 }).then(
    () => assert.fail('a hanging command resolved'),
    (e: unknown) => e,
  );
  const took = Date.now() - started;
  assert.ok(err instanceof GuestError, String(err));
  assert.equal(err.code, 'ETIMEDOUT');
  assert.match(err.message, /guest timed out after 30000 ms \(command running since \d+ ms\)/);
  assert.match(err.message, /--- console tail ---[\s\S]*vfio-ts-vm: run/);
  assert.equal(err.stdout, 'started\n');
  assert.ok(took < 30_000 + 10_000, `rejected ${took} ms after the start`);
  assert.equal(runningGuests(), 0);
  assert.ok(err.qemuPid !== undefined);
  assert.throws(() => process.kill(err.qemuPid!, 0), { code: 'ESRCH' }, 'QEMU is gone');
});

test(`guest: an unbootable guest rejects with the console tail${suffix}`, { skip, timeout: BOOT_TEST_TIMEOUT }, async () => {
  // init= pointing nowhere: the kernel panics before /init runs, panic=-1 reboots, -no-reboot ends QEMU.
  const err = await runInGuest({ command: ['true'], timeoutMs: 120_000, kernelArgs: ['rdinit=/nonexistent'] }).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GuestError, String(err));
  assert.equal(err.code, 'EGUESTBOOT');
  assert.match(err.message, /before the guest reported an exit status/);
  assert.match(err.message, /--- console tail ---/);
  assert.match(err.console, /Kernel panic|No working init found|rdinit/);
});
