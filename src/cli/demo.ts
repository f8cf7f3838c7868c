// `npm start` / `vfio-ts demo`: a device model served over vfio-user in a
// child process, driven through the Driver API by its driver in this one,
// narrating what happens on the wire. No privileges, no hardware.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Device } from '../client/device.js';
import { connectVfioUser, type VfioUserBackend } from '../client/vfio-user/backend.js';
import { NvmeDriver } from '../drivers/nvme/index.js';
import { className } from '../pci/decode.js';
import { onStopSignals, signalExitCode, type StopSignal } from './signals.js';
import { hex } from '../util/format.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface DemoOptions {
  /** Where progress goes (default stdout). */
  out?: (line: string) => void;
}

/**
 * Starts `vfio-ts serve <model>` in a child and waits for its socket;
 * `onSpawn` gets the child at once (so that a signal meanwhile can stop it).
 */
export async function startServerChild(
  model: string,
  socket: string,
  extra: string[] = [],
  onSpawn?: (child: ChildProcess) => void,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', model, '--socket', socket, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  onSpawn?.(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the ${model} server exited: ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`the ${model} server did not create ${socket}: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

/** Ends a child: SIGTERM, then SIGKILL if it has not exited after `ms`. */
async function stopChild(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(t);
}

export async function demo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? ((l: string) => console.log(l));
  const started = performance.now();
  let child: ChildProcess | undefined;
  let dev: Device | undefined;
  // Everything the demo leaves is its child and the folder (the child's sockets are in it).
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      try {
        dev?.close();
      } catch {
        // the server may be gone already
      }
      dev = undefined;
      if (child) await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    })());
  let interrupted: StopSignal | undefined;
  const removeHandlers = onStopSignals(
    (signal) => {
      interrupted = signal;
      console.error(`\nvfio-ts demo: ${signal}: stopping the server and removing ${dir} (another signal: at once)`);
      void cleanup().then(() => process.exit(signalExitCode(signal)));
    },
    (signal) => {
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.exit(signalExitCode(signal));
    },
  );
  // After the handlers (a signal before them would leave the folder), in the same synchronous run.
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-demo-'));
  const socket = join(dir, 'nvme.sock');
  const step = (s: string): void => out(`\n== ${s}`);
  try {
    step('serving the NVMe device model over vfio-user (a child process: vfio-ts serve nvme)');
    child = await startServerChild('nvme', socket, ['--size', String(64 * 1024 * 1024)], (c) => (child = c));
    out(`   socket ${socket}, server pid ${child.pid}`);

    step('connecting: VERSION negotiation, device info');
    dev = connectVfioUser(socket);
    const s = (dev.backend as VfioUserBackend).session;
    out(
      `   protocol ${s.major}.${s.minor}; max data transfer ${s.maxSendDataXfer} bytes, ${s.maxSendFds} fds per message, DMA page sizes ${hex(s.pgsizes)}`,
    );
    out(`   ${dev.info.numRegions} regions, ${dev.info.numIrqs} IRQ indexes${dev.info.reset ? ', function reset' : ''}`);

    step("config space, through the server's copy of the kernel's permission model");
    out(`   ${hex(dev.config.read16(0), 4)}:${hex(dev.config.read16(2), 4).slice(2)} class ${className(dev.config.read16(0x0a))}`);
    const bar0 = dev.config.read32(0x10);
    dev.config.write32(0x10, 0xffffffff);
    const sized = dev.config.read32(0x10);
    dev.config.write32(0x10, bar0);
    out(`   BAR0 sizing: wrote all ones, read ${hex(sized >>> 0, 8)}: a ${(~(sized & ~0xf) >>> 0) + 1}-byte 64-bit BAR`);
    const r0 = dev.regionInfo(0);
    out(
      `   BAR0 region: ${r0.size} bytes, mappable areas ${r0.mmapAreas.map((a) => `[${hex(a.offset)}+${hex(a.size)}]`).join(' ')} (the doorbells: rung without a message)`,
    );
    dev.config.write16(6, 0xffff);
    const status = dev.config.read16(6);
    out(`   MSI-X: ${dev.irqInfo(2).count} vectors; status register is read-only: wrote 0xffff, reads ${hex(status, 4)}`);

    step('driver: controller bring-up (admin queues in DMA buffers, MSI-X, I/O queues)');
    let interrupts = 0;
    dev.on('interrupt', () => interrupts++);
    let ctrl = await NvmeDriver.open(dev, { interrupts: 'msix', ioQueues: 1 });
    const id = ctrl.identity;
    out(`   ${id.model} (serial ${id.serial}, firmware ${id.firmware}); max transfer ${ctrl.maxTransferBytes} bytes`);
    out(
      `   ${ctrl.ioQueues.length} I/O queue pair created (completion queue on MSI-X vector 1); ${dev.dma.buffers.length} DMA buffers mapped (DMA_MAP with their memfds)`,
    );
    let ns = await ctrl.namespace(1);
    out(`   namespace 1: ${ns.blocks} blocks of ${ns.blockSize} bytes`);

    step('I/O: write 1 MiB, read it back, verify (completions by MSI-X)');
    const data = new Uint8Array(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const before = interrupts;
    await ns.write(2048, data);
    await ns.flush();
    let back = await ns.read(2048, data.length / ns.blockSize);
    let same = back.every((b, i) => b === data[i]);
    out(`   1 MiB written at LBA 2048 and read back: ${same ? 'identical' : 'DIFFERENT'}; ${interrupts - before} interrupts`);
    await assertRejects(ns.read(ns.blocks - 1, 2), (code) => out(`   reading past the end: ${code} (an NVMe status, as a typed error)`));

    step('the polled fast path: a queue without interrupts, 4 KiB random reads at queue depth 32, no system call per I/O');
    await ctrl.deleteIoQueue(ctrl.ioQueues[0]!);
    const polledQueue = await ctrl.createIoQueue({ vector: -1 });
    const io = ns.polled(polledQueue);
    let done = 0;
    let failed = 0;
    io.onComplete = (_slot, status) => {
      done++;
      if (status !== 0) failed++;
    };
    let x = 12345;
    const t0 = performance.now();
    while (performance.now() - t0 < 500) {
      while (io.outstanding < 32) {
        x = (x * 1103515245 + 12345) >>> 0;
        if (io.submitRead((x % (ns.blocks / 8)) * 8, 8, false) < 0) break;
      }
      io.ring();
      io.poll();
    }
    io.drain(5000);
    const secs = (performance.now() - t0) / 1000;
    out(`   ${done} reads in ${secs.toFixed(2)} s: ${Math.round(done / secs).toLocaleString('en-US')} IOPS, ${failed} errors`);
    out('   (a polled figure: driver and server each spin a CPU, so it depends on how many CPUs are free; npm run bench measures)');

    step('reset: shut the controller down, DEVICE_RESET, bring it up again; the data is still there');
    await ctrl.shutdown();
    dev.reset();
    out(`   BAR0 programming kept across the reset: ${dev.config.read32(0x10) === bar0 ? 'yes' : 'NO'}`);
    ctrl = await NvmeDriver.open(dev, { interrupts: 'msix', ioQueues: 1 });
    ns = await ctrl.namespace(1);
    back = await ns.read(2048, data.length / ns.blockSize);
    same = same && back.every((b, i) => b === data[i]);
    out(
      `   after the reset, the 1 MiB reads back ${back.every((b, i) => b === data[i]) ? 'identical' : 'DIFFERENT'}; ${interrupts} interrupts in all`,
    );
    await ctrl.shutdown();
    dev.close();
    dev = undefined;
    out('   closed: the server released our DMA maps and eventfds and reset the device for the next client');
    const ok = same && failed === 0;
    const took = ((performance.now() - started) / 1000).toFixed(1);
    out(
      `\n${ok ? 'demo passed' : 'demo FAILED'} in ${took} s: config space and BAR sizing, NVMe bring-up with MSI-X, 1 MiB written and read back ${same ? 'identical' : 'DIFFERENT'}, ` +
        `an out-of-range read refused, ${failed} polled read errors, data and BAR programming kept across a reset`,
    );
    return ok ? 0 : 1;
  } finally {
    await cleanup();
    removeHandlers();
    if (interrupted) process.exit(signalExitCode(interrupted));
  }
}

async function assertRejects(p: Promise<unknown>, onCode: (code: string) => void): Promise<void> {
  try {
    await p;
    onCode('no error (unexpected)');
  } catch (err) {
    onCode((err as { code?: string }).code ?? String(err));
  }
}
