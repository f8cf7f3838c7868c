// `npm start` / `vfio-ts demo`: a device model served over vfio-user in a
// child process, driven through the Driver API by its driver in this one,
// narrating what happens on the wire. No privileges, no hardware.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Device } from '../client/device.js';
import { connectVfioUser, VfioUserBackend } from '../client/vfio-user.js';
import { EduDriver } from '../drivers/edu.js';
import { className } from '../pci/decode.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface DemoOptions {
  /** Where progress goes (default stdout). */
  out?: (line: string) => void;
}

function hex(n: number | bigint, width = 0): string {
  return '0x' + n.toString(16).padStart(width, '0');
}

/** Starts `vfio-ts serve <model>` in a child and waits for its socket. */
export async function startServerChild(model: string, socket: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', model, '--socket', socket, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null) throw new Error(`the ${model} server exited: ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`the ${model} server did not create ${socket}: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

export async function demo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? ((l: string) => console.log(l));
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-demo-'));
  const socket = join(dir, 'edu.sock');
  let child: ChildProcess | undefined;
  let dev: Device | undefined;
  const step = (s: string): void => out(`\n== ${s}`);
  try {
    step('serving the edu device model over vfio-user (child process)');
    child = await startServerChild('edu', socket);
    out(`   socket ${socket}, server pid ${child.pid}`);

    step('connecting: VERSION negotiation');
    dev = connectVfioUser(socket);
    const s = (dev.backend as VfioUserBackend).session;
    out(`   protocol ${s.major}.${s.minor}; max data transfer ${s.maxSendDataXfer} bytes, ${s.maxSendFds} fds per message, page sizes ${hex(s.pgsizes)}`);
    out(`   device: ${dev.info.numRegions} regions, ${dev.info.numIrqs} IRQ indexes${dev.info.reset ? ', reset' : ''}`);

    step('config space, through the server\'s copy of the kernel\'s permission model');
    const vendor = dev.config.read16(0);
    const device = dev.config.read16(2);
    out(`   ${hex(vendor, 4)}:${hex(device, 4).slice(2)} class ${className(dev.config.read16(0x0a))}`);
    const bar0 = dev.config.read32(0x10);
    dev.config.write32(0x10, 0xffffffff);
    const sized = dev.config.read32(0x10);
    dev.config.write32(0x10, bar0);
    out(`   BAR0 sizing: wrote all ones, read ${hex(sized >>> 0, 8)} -> ${(~(sized & ~0xf) >>> 0) + 1} bytes (region info says ${dev.regionInfo(0).size})`);
    dev.config.write16(0x06, 0xffff);
    out(`   status is read-only to drivers: still ${hex(dev.config.read16(0x06), 4)} after writing 0xffff`);

    step('driver: identification and liveness (BAR0 register access by REGION_READ/WRITE)');
    const edu = EduDriver.attach(dev);
    const v = edu.version();
    out(`   edu version ${v.major}.${v.minor}; liveness check ${edu.isAlive() ? 'passed' : 'FAILED'}`);

    step('factorial, completed by polling, then by MSI');
    out(`   10! = ${await edu.factorial(10)} (polled)`);
    edu.enableInterrupts('msi');
    let irqs = 0;
    dev.on('interrupt', () => irqs++);
    out(`   12! = ${await edu.factorialByInterrupt(12)} (MSI vector 0 fired via an eventfd)`);

    step('DMA: a buffer mapped for the device (DMA_MAP with its memfd), copied in and out by the device');
    const data = new Uint8Array(1024).map((_, i) => (i * 7 + 3) & 0xff);
    const back = await edu.roundTrip(data, { interrupt: true });
    const same = back.length === data.length && back.every((b, i) => b === data[i]);
    out(`   ${data.length} bytes to the device and back: ${same ? 'identical' : 'DIFFERENT'}; interrupts so far: ${irqs}`);

    step('reset (DEVICE_RESET) and close');
    const before = dev.config.read32(0x10);
    if (dev.info.reset) {
      edu.reset();
      out(`   reset done; BAR0 programming kept: ${dev.config.read32(0x10) === before ? 'yes' : 'NO'}`);
    }
    edu.close();
    dev = undefined;
    out('   closed: the server released our DMA maps and interrupt fds and reset the device for the next client');
    return same ? 0 : 1;
  } finally {
    dev?.close();
    child?.kill('SIGTERM');
    if (child && child.exitCode === null) await new Promise((r) => child!.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
