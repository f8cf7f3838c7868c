// A device model and a driver for it in one program: the edu model (QEMU's
// educational device) served over vfio-user from a worker thread, and the edu
// driver on the main thread doing register, interrupt and DMA work on it.
//
// Run it (from a project that depends on vfio-ts, after compiling with tsc):
//   node edu-device-and-driver.js
// It prints what it did and exits 0.
//
// Why a worker: the Driver API is synchronous (a BAR read blocks its thread
// until the reply), so a server on the driver's own thread could never answer;
// connecting to it fails at once with EDEADLK. serveInWorker gives the model
// its own thread and event loop.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectVfioUser } from 'vfio-ts';
import { EduDriver } from 'vfio-ts/drivers/edu';
import { serveInWorker } from 'vfio-ts/server';

const dir = mkdtempSync(join(tmpdir(), 'edu-example-'));
const socket = join(dir, 'edu.sock');
// The module and export that hold the model: here the package's edu model, a
// class built with these options in the worker.
const served = await serveInWorker('vfio-ts/devices/edu', { socket, export: 'EduModel', modelOptions: {} });
try {
  const edu = EduDriver.attach(connectVfioUser(socket));
  try {
    const { major, minor } = edu.version();
    console.log(`edu ${major}.${minor} on ${socket}, alive: ${edu.isAlive()}`);

    edu.enableInterrupts('msi');
    console.log(`10! = ${await edu.factorialByInterrupt(10, { timeoutMs: 5000 })} (completed by MSI)`);

    const data = new TextEncoder().encode('hello from the driver, through edu and back');
    const back = await edu.roundTrip(data, { interrupt: true, timeoutMs: 5000 });
    console.log(`DMA round trip of ${data.length} bytes: ${new TextDecoder().decode(back)}`);
  } finally {
    edu.close();
  }
} finally {
  await served.close(); // the worker ends; nothing keeps the process alive
  rmSync(dir, { recursive: true, force: true });
}
console.log('ok');
