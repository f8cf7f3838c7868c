// The broker for real, in the guest: `vfio-ts broker` runs as root in front
// of QEMU's edu and nvme (bound to vfio-pci), and our drivers run as another
// user (uid 1000, who needs no /dev/vfio access for this) through its socket.
// Then the attacks, each of which must fail cleanly: a user not on the
// allow-list, a second client, DMA maps of memory the client may not share
// or without a descriptor, writes to protected config bits, a client killed
// in the middle of DMA (the next client works), and an unplug while a client
// holds the device and does not let go (REQ, then revocation after the grace
// period, the removal completes, and after a rescan the broker serves again).

import assert from 'node:assert/strict';
import { spawn, type SpawnOptions } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { AUTO_FLOW, EDU, giveToUser, guestTest, NVME, vfioFilesOf } from './helpers.js';

const USER = { uid: 1000, gid: 1000 };
const STRANGER = { uid: 1001, gid: 1001 };
const CLIENT = fileURLToPath(new URL('../broker/client.child.js', import.meta.url));
const DMA_CLIENT = fileURLToPath(new URL('../broker/dma-client.child.js', import.meta.url));
const EDU_SUITE = fileURLToPath(new URL('../broker/edu-suite.run.js', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  steps: Record<string, unknown>[];
  output: string;
}

/** Runs node with `args` as `who`; resolves when it exits, with its JSON steps and all its output. */
function runAs(
  who: { uid: number; gid: number },
  args: string[],
  env: Record<string, string> = {},
  onStep?: (s: Record<string, unknown>) => void,
): { done: Promise<Run>; pid: number | undefined; kill: (sig: NodeJS.Signals) => void } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT; // the child's own `node --test` is not a subtest of ours
  const opts: SpawnOptions = { uid: who.uid, gid: who.gid, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv };
  const child = spawn(process.execPath, args, opts);
  const steps: Record<string, unknown>[] = [];
  let output = '';
  createInterface({ input: child.stdout! }).on('line', (l) => {
    output += `${l}\n`;
    try {
      const s = JSON.parse(l) as Record<string, unknown>;
      steps.push(s);
      onStep?.(s);
    } catch {
      // not a step line (the test runner's TAP, for one)
    }
  });
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const done = new Promise<Run>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, steps, output })));
  return { done, pid: child.pid, kill: (sig) => child.kill(sig) };
}

function stepsOf(r: Run): string[] {
  return r.steps.map((s) => String(s.step));
}

function released(b: BrokerProcess, pid: number | undefined): Promise<unknown> {
  return b.waitFor(
    (e) =>
      e.event === 'client' && (e.client as { type: string; pid: number }).type === 'released' && (e.client as { pid: number }).pid === pid,
    `the release of pid ${pid}`,
  );
}

guestTest(
  "broker (root): QEMU's edu served to uid 1000: the edu driver suite through the broker, and every attack fails cleanly",
  { root: true, timeout: 240_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-broker-'));
    chmodSync(dir, 0o755);
    const socket = join(dir, 'edu.sock');
    const broker = await startBroker([EDU, '--socket', socket, '--allow-uid', String(USER.uid), '--grace-ms', '1500'], socket);
    try {
      // The broker opens with auto: over iommufd where the kernel has it.
      const brokerFiles = vfioFilesOf(broker.child.pid!);
      t.diagnostic(`the broker holds ${brokerFiles.join(' ')}`);
      if (AUTO_FLOW === 'iommufd')
        assert.ok(brokerFiles.includes('/dev/iommu') && brokerFiles.some((f) => f.startsWith('/dev/vfio/devices/')), brokerFiles.join(' '));
      else assert.ok(brokerFiles.includes('/dev/vfio/vfio'), brokerFiles.join(' '));
      // The whole edu driver suite, as the unprivileged user, against the real device.
      const suite = await runAs(USER, ['--test', '--test-reporter=tap', EDU_SUITE], { VFIO_TS_BROKER_SOCKET: socket }).done;
      assert.equal(suite.code, 0, `the edu suite through the broker failed:\n${suite.output}`);
      assert.match(suite.output, /# pass 1[01]/);
      assert.match(suite.output, /# fail 0/);

      t.diagnostic('suite passed');
      const attacks = await runAs(USER, [CLIENT, 'attacks', socket]).done;
      assert.equal(attacks.code, 0, attacks.output);
      assert.deepEqual(stepsOf(attacks), ['second-client-refused', 'dma-writable-readonly-file-refused', 'config-protected']);
      const fdless = await runAs(USER, [CLIENT, 'fdless', socket]).done;
      assert.equal(fdless.code, 0, fdless.output);

      t.diagnostic('attacks + fdless passed');
      const stranger = await runAs(STRANGER, [CLIENT, 'refused', socket]).done;
      assert.equal(stranger.code, 0, stranger.output);
      assert.notEqual(stranger.steps[0]?.code, 'connected', 'uid 1001 is not on the allow-list');
      await broker.waitFor(
        (e) =>
          e.event === 'client' &&
          (e.client as { type: string; uid: number }).type === 'refused' &&
          (e.client as { uid: number }).uid === STRANGER.uid,
        'the refusal of uid 1001',
      );

      t.diagnostic('stranger refused');
      // Killed in the middle of DMA: the broker releases the device (IOMMU maps undone, device reset by the kernel).
      let running!: () => void;
      const isRunning = new Promise<void>((r) => (running = r));
      const dma = runAs(USER, [DMA_CLIENT, socket], {}, (s) => s.step === 'running' && running());
      await Promise.race([isRunning, dma.done.then((r) => Promise.reject(new Error(`the DMA client exited early: ${r.output}`)))]);
      t.diagnostic('dma client running');
      dma.kill('SIGKILL');
      await released(broker, dma.pid);
      t.diagnostic('killed client released');
      const after = await runAs(USER, [CLIENT, 'attacks', socket]).done;
      assert.equal(after.code, 0, `the next client after a killed one: ${after.output}`);

      t.diagnostic('next client ok');
      // Unplug while a client holds the device and does not let go.
      let holding!: () => void;
      let unplugged!: (reason: unknown) => void;
      const isHolding = new Promise<void>((r) => (holding = r));
      const gotUnplug = new Promise<unknown>((r) => (unplugged = r));
      const holder = runAs(USER, [CLIENT, 'hold', socket], {}, (s) => {
        if (s.step === 'holding') holding();
        if (s.step === 'unplug') unplugged(s.reason);
      });
      await isHolding;
      t.diagnostic('holder holding');
      const t0 = Date.now();
      const remover = spawn('sh', ['-c', `echo 1 > /sys/bus/pci/devices/${EDU}/remove`], { stdio: 'ignore' });
      const removed = new Promise<number | null>((r) => remover.once('exit', r));
      const timer = setTimeout(() => unplugged('none within 15 s'), 15_000);
      assert.equal(await gotUnplug, 'request', 'the holder got REQ as an unplug');
      clearTimeout(timer);
      t.diagnostic('unplug seen');
      await broker.waitFor((e) => e.event === 'revoked', 'the revocation');
      t.diagnostic('revoked');
      const held = await holder.done;
      assert.equal(held.code, 0, held.output);
      assert.deepEqual(stepsOf(held), ['holding', 'unplug', 'closed']);
      assert.equal(await removed, 0, 'the removal completed once the broker let go');
      t.diagnostic(`unplug to removal: ${Date.now() - t0} ms (grace 1500 ms)`);
      const gone = await runAs(USER, [CLIENT, 'refused', socket]).done;
      assert.equal(gone.steps[0]?.code, 'ENODEV', 'while the device is away clients get ENODEV');

      t.diagnostic('ENODEV while away');
      spawn('sh', ['-c', 'echo 1 > /sys/bus/pci/rescan'], { stdio: 'ignore' });
      await broker.waitFor((e) => e.event === 'reinstated', 'the device back on vfio-pci', 20_000);
      t.diagnostic('reinstated');
      const back = await runAs(USER, [CLIENT, 'attacks', socket]).done;
      assert.equal(back.code, 0, `after the rescan: ${back.output}`);
      // The group file (and cdev) were made anew (root's): give them back to the user as /init did.
      giveToUser(EDU, USER);
    } finally {
      t.diagnostic(
        `broker events: ${broker.events.map((e) => (e.event === 'client' ? (e.client as { type: string }).type : e.event)).join(' ')}${broker.stderr.length ? `; stderr: ${broker.stderr.join(' | ')}` : ''}`,
      );
      const code = await broker.stop();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `the broker exits cleanly on SIGTERM: ${broker.stderr.join('\n')}`);
    }
  },
);

guestTest(
  "broker (root): QEMU's nvme served to uid 1000: the NVMe driver brings it up and moves data through the broker (MSI-X), by messages and with BAR0 mapped",
  { root: true, timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-broker-'));
    chmodSync(dir, 0o755);
    try {
      for (const mmap of [false, true]) {
        const socket = join(dir, `nvme${mmap ? '-mmap' : ''}.sock`);
        const broker = await startBroker([NVME, '--socket', socket, '--allow-uid', String(USER.uid), ...(mmap ? ['--mmap'] : [])], socket);
        try {
          const r = await runAs(USER, [CLIENT, 'nvme', socket]).done;
          assert.equal(r.code, 0, r.output);
          assert.deepEqual(stepsOf(r), ['nvme-ok']);
          assert.equal(r.steps[0]!.model, 'QEMU NVMe Ctrl');
          // BAR0 holds nvme's MSI-X table: mapped only where the kernel says the table may be (interrupt remapping).
          t.diagnostic(`--mmap ${mmap}: BAR0 mapped ${String(r.steps[0]!.mapped)}`);
          assert.equal(r.steps[0]!.mapped, mmap);
        } finally {
          await broker.stop();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// Revoking a client's sysfs mapping needs CONFIG_IO_STRICT_DEVMEM (src/broker/direct-bar.ts); the harness says whether the kernel has it.
const STRICT_DEVMEM = process.env.VFIO_TS_GUEST_IO_STRICT_DEVMEM;
const NO_REVOKE =
  STRICT_DEVMEM === 'n' ? ' (SKIPPED: this kernel lacks CONFIG_IO_STRICT_DEVMEM, so claiming a BAR does not revoke sysfs mappings)' : '';

guestTest(
  `broker (root) with --mmap: BAR0 of QEMU's edu mapped by uid 1000 through its sysfs resource file, and revoked when the broker takes the device back${NO_REVOKE}`,
  { root: true, timeout: 120_000 },
  async (t) => {
    if (NO_REVOKE !== '') return t.skip('this kernel lacks CONFIG_IO_STRICT_DEVMEM');
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-broker-'));
    chmodSync(dir, 0o755);
    const socket = join(dir, 'edu-mmap.sock');
    let broker = await startBroker([EDU, '--socket', socket, '--allow-uid', String(USER.uid), '--mmap', '--grace-ms', '500'], socket);
    try {
      const r = await runAs(USER, [CLIENT, 'mapped', socket]).done;
      assert.equal(r.code, 0, r.output);
      assert.deepEqual(stepsOf(r), ['mapped-ok']);
      // A second client after the first left: the BAR is mappable again (the device was reopened).
      const again = await runAs(USER, [CLIENT, 'mapped', socket]).done;
      assert.equal(again.code, 0, again.output);

      let holding!: () => void;
      const isHolding = new Promise<void>((r2) => (holding = r2));
      const keeper = runAs(USER, [CLIENT, 'keep-mapping', socket], {}, (s) => s.step === 'holding' && holding());
      await Promise.race([isHolding, keeper.done.then((k) => Promise.reject(new Error(`the keeper exited early: ${k.output}`)))]);
      assert.equal(await broker.stop(), 0); // REQ, 500 ms of grace, then the device goes back to the kernel
      const kept = await keeper.done;
      t.diagnostic(`keeper: code ${kept.code} signal ${kept.signal} steps ${stepsOf(kept).join(' ')}`);
      assert.deepEqual(stepsOf(kept), ['holding', 'closed']);
      assert.equal(kept.signal, 'SIGBUS', 'the kept mapping was revoked: reading it faults');

      // And the device is usable again, by the kernel backend as by a new broker.
      broker = await startBroker([EDU, '--socket', socket, '--allow-uid', String(USER.uid), '--mmap'], socket);
      const after = await runAs(USER, [CLIENT, 'mapped', socket]).done;
      assert.equal(after.code, 0, after.output);
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
