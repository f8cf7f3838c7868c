// vfio-ts trace: the trace socket of vfio-ts serve, its JSON lines and their
// human rendering, driven by a real client; the error without a trace socket.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServerChild } from '../../src/cli/demo.js';
import { TraceDecoder, TraceServer } from '../../src/cli/trace-server.js';
import {
  Command,
  DMA_UNMAP_FLAG_ALL,
  FLAG_NO_REPLY,
  commandName,
  encodeDmaUnmapRequest,
  encodeErrorReply,
  encodeRegionReadReply,
  encodeRegionReadRequest,
  encodeRegionWriteMultiRequest,
  encodeRegionWriteRequest,
  readHeader,
} from '../../src/protocol/index.js';
import type { MessageTrace } from '../../src/server/session.js';
import { configRegisterName, formatTraceEvent, type TraceEvent } from '../../src/cli/trace-format.js';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { EduModel } from '../../src/devices/edu.js';
import { VfioUserServer } from '../../src/server/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Tracer {
  child: ChildProcess;
  out: () => string;
}

function startTracer(socket: string, json: boolean): Tracer {
  const child = spawn(process.execPath, [MAIN, 'trace', socket, ...(json ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('trace: serve streams decoded traffic on <socket>.trace; JSON lines and the human rendering', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-trace-'));
  const socket = join(dir, 'edu.sock');
  const server = await startServerChild('edu', socket);
  const tracers: Tracer[] = [];
  try {
    await until('the trace socket', () => existsSync(`${socket}.trace`));
    assert.equal(statSync(`${socket}.trace`).mode & 0o777, statSync(socket).mode & 0o777, 'same mode as the device socket');
    const json = startTracer(socket, true);
    const human = startTracer(socket, false);
    tracers.push(json, human);
    await until('hello lines', () => json.out().includes('"hello"') && human.out().includes('tracing edu'));

    const dev = connectVfioUser(socket, { map: false });
    dev.config.write16(4, 0x0006);
    const bar0 = dev.bar(0);
    bar0.write32(0x04, 0x12345678);
    assert.equal(bar0.read32(0x04), 0xedcba987);
    const buf = dev.allocDma(4096, { limit: 1n << 28n });
    dev.enableInterrupts('msi', 1);
    dev.reset();
    void buf;
    dev.close();

    await until('the disconnect in both traces', () => json.out().includes('"disconnect"') && human.out().includes('client disconnect'));
    const events = json
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TraceEvent);
    const hello = events[0]!;
    assert.equal(hello.type, 'hello');
    assert.deepEqual(hello.type === 'hello' && hello.capabilities.map((c) => [c.id, c.offset]), [[0x05, 0x40]]);
    const find = (pred: (e: TraceEvent & Record<string, unknown>) => boolean): TraceEvent | undefined =>
      events.find((e) => pred(e as TraceEvent & Record<string, unknown>));
    assert.ok(
      find((e) => e.type === 'client' && e['event'] === 'connect'),
      'client connect',
    );
    assert.ok(
      find((e) => e.type === 'config' && e['op'] === 'write' && e['offset'] === 4 && e['value'] === '0x0006'),
      'COMMAND write',
    );
    assert.ok(
      find((e) => e.type === 'region' && e['regionName'] === 'BAR0' && e['op'] === 'write' && e['value'] === '0x12345678'),
      'BAR0 write',
    );
    assert.ok(
      find((e) => e.type === 'region' && e['regionName'] === 'BAR0' && e['op'] === 'read' && e['value'] === '0xedcba987'),
      'BAR0 read with its value',
    );
    assert.ok(
      find((e) => e.type === 'dma_map' && e['fd'] === true && e['size'] === '0x1000'),
      'DMA_MAP',
    );
    assert.ok(
      find((e) => e.type === 'set_irqs' && e['irq'] === 'MSI' && e['data'] === 'eventfd'),
      'SET_IRQS MSI',
    );
    assert.ok(
      find((e) => e.type === 'reset'),
      'DEVICE_RESET',
    );
    assert.ok(
      find((e) => e.type === 'dma_unmap'),
      'DMA_UNMAP at close',
    );
    assert.ok(
      find((e) => typeof e['errno'] === 'string'),
      'an error reply with its errno',
    );

    const text = human.out();
    assert.match(text, /config write 0x04 COMMAND = 0x0006 \(MEMORY MASTER\)/);
    assert.match(text, /BAR0 write 0x04 \+4 = 0x12345678/);
    assert.match(text, /BAR0 read 0x04 \+4 = 0xedcba987/);
    assert.match(text, /DMA map iova 0x[0-9a-f]+ size 0x1000 rw \(fd/);
    assert.match(text, /SET_IRQS MSI trigger eventfd \(1 fds\) vectors 0\.\.0/);
    assert.match(text, /DEVICE_RESET/);
    assert.match(text, /-> EINVAL/);
    assert.match(text, /client disconnect/);

    for (const t of tracers) {
      const exited = new Promise<number | null>((r) => t.child.once('exit', (code) => r(code)));
      t.child.kill('SIGINT');
      assert.equal(await exited, 0, 'Ctrl-C ends the tracer cleanly');
    }
  } finally {
    for (const t of tracers) if (t.child.exitCode === null) t.child.kill('SIGKILL');
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    assert.equal(existsSync(`${socket}.trace`), false, 'the trace socket is removed on exit');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trace: the server subscribes to its events only while a tracer is connected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-trace-'));
  const socket = join(dir, 'edu.sock');
  const server = VfioUserServer.listen(socket, new EduModel());
  const tracer = new TraceServer(server, socket, { model: 'edu' });
  try {
    assert.equal(server.listenerCount('message'), 0);
    const c = connect(tracer.path);
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    await until('hello', () => got.includes('\n'));
    assert.equal(JSON.parse(got.split('\n')[0]!).type, 'hello');
    assert.equal(tracer.subscribed, true);
    assert.equal(server.listenerCount('message'), 1);
    c.destroy();
    await until('unsubscribe', () => !tracer.subscribed);
    assert.equal(server.listenerCount('message'), 0);
    assert.equal(server.listenerCount('client'), 0);
  } finally {
    await server.close();
    assert.equal(existsSync(tracer.path), false);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trace: a socket without a trace socket gives a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-trace-'));
  try {
    const r = spawnSync(process.execPath, [MAIN, 'trace', join(dir, 'absent.sock')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no trace socket: is the device served by vfio-ts serve\?/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trace-format: config offsets named from the header and the capability list', () => {
  const caps = [
    { id: 0x01, extended: false, offset: 0x40, length: 8 },
    { id: 0x05, extended: false, offset: 0x50, length: 24 },
    { id: 0x10, extended: false, offset: 0x70, length: 0x3c },
    { id: 0x11, extended: false, offset: 0xb0, length: 12 },
    { id: 0x01, extended: true, offset: 0x100, length: 0x48 },
  ];
  assert.equal(configRegisterName(0x04, 2, caps), 'COMMAND');
  assert.equal(configRegisterName(0x04, 4, caps), 'COMMAND/STATUS');
  assert.equal(configRegisterName(0x44, 2, caps), 'PM.PMCSR');
  assert.equal(configRegisterName(0x52, 2, caps), 'MSI.CONTROL');
  assert.equal(configRegisterName(0x60, 4, caps), 'MSI.MASK');
  assert.equal(configRegisterName(0x78, 2, caps), 'PCIe.DEVCTL');
  assert.equal(configRegisterName(0xb2, 2, caps), 'MSI-X.CONTROL');
  assert.equal(configRegisterName(0x104, 4, caps), 'AER.UNCOR_STATUS');
  assert.equal(configRegisterName(0x11, 1, caps), 'BAR0+1');
  assert.equal(configRegisterName(0xf0, 4, caps), '0x0f0');
  const line = formatTraceEvent(
    { type: 'config', time: 0, client: 1, msgId: 3, op: 'write', region: 7, regionName: 'config', offset: 0xb2, size: 2, value: '0x8000' },
    caps,
  );
  assert.match(line, /#1 config write 0xb2 MSI-X\.CONTROL = 0x8000 \(ENABLE, 1 vectors\)/);
});

test('trace decoder: commands decoded by the protocol codecs, replies joined, malformed commands shown as such', () => {
  const decoder = new TraceDecoder();
  const t = (direction: 'in' | 'out', message: Buffer, fds = 0): MessageTrace => {
    const header = readHeader(message);
    return { client: 1, direction, header, name: commandName(header.command), message, fds };
  };
  assert.deepEqual(decoder.decode(t('in', encodeRegionReadRequest(5, 7, 4, 2)), 1), [], 'a command waits for its reply');
  const [read] = decoder.decode(t('out', encodeRegionReadReply(5, 7, 4, Uint8Array.of(0x06, 0x00))), 2);
  assert.deepEqual(read, {
    type: 'config',
    time: 2,
    client: 1,
    msgId: 5,
    op: 'read',
    region: 7,
    regionName: 'config',
    offset: 4,
    size: 2,
    value: '0x0006',
  });

  const multi = encodeRegionWriteMultiRequest(
    6,
    [
      { region: 0, offset: 8, data: Uint8Array.of(1, 2, 3, 4) },
      { region: 7, offset: 4, data: Uint8Array.of(6, 0) },
    ],
    FLAG_NO_REPLY,
  );
  const writes = decoder.decode(t('in', multi), 3);
  assert.deepEqual(
    writes.map((e) => [e.type, 'value' in e ? e.value : undefined]),
    [
      ['region', '0x04030201'],
      ['config', '0x0006'],
    ],
  );

  const unmap = encodeDmaUnmapRequest(7, { flags: DMA_UNMAP_FLAG_ALL, address: 0, size: 0 });
  decoder.decode(t('in', unmap), 4);
  const [u] = decoder.decode(t('out', encodeErrorReply({ msgId: 7, command: Command.DMA_UNMAP }, 'EINVAL')), 5);
  assert.deepEqual(u, { type: 'dma_unmap', time: 5, client: 1, msgId: 7, iova: '0x0', size: '0x0', all: true, errno: 'EINVAL' });

  // A REGION_WRITE whose count exceeds its data: the codec refuses it, the trace says so.
  const bad = encodeRegionWriteRequest(8, 0, 0, Uint8Array.of(1, 2, 3, 4));
  bad.writeUInt32LE(8, 16 + 12);
  decoder.decode(t('in', bad), 6);
  const [undecodable] = decoder.decode(t('out', encodeErrorReply({ msgId: 8, command: Command.REGION_WRITE }, 'EINVAL')), 7);
  assert.equal(undecodable?.type, 'command');
  assert.match(String((undecodable as { detail?: string }).detail), /^\(undecodable: REGION_WRITE with count 8/);
});
