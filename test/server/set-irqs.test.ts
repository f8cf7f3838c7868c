// DEVICE_SET_IRQS with the kernel's semantics: exclusive modes, binding and
// unbinding eventfds, disable with count 0, loopback triggers, INTx
// mask/unmask (and the unmask eventfd), ERR/REQ, and every refusal with the
// kernel's errno (EINVAL for bad index/range/flags/state, ENOTTY for actions
// an index lacks), descriptors always released.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Command,
  IRQ_SET_ACTION_MASK,
  IRQ_SET_ACTION_TRIGGER,
  IRQ_SET_DATA_BOOL,
  IRQ_SET_DATA_EVENTFD,
  IRQ_SET_DATA_NONE,
} from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { REG } from './fixtures/test-device.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  ClientMemory,
  CONFIG,
  ERR,
  eventfds,
  INTX,
  MSI,
  MSIX,
  REQ,
  resources,
  setIrqs,
  sleep,
  startServer,
  TestClient,
  type TestServer,
  eachClient,
  rawRequest,
} from './helpers.js';

function raw(id: number, f: { argsz?: number; flags: number; index: number; start: number; count: number }, data: number[] = []): Buffer {
  const b = rawRequest(Command.DEVICE_SET_IRQS, id, 20 + data.length);
  b.writeUInt32LE(f.argsz ?? 20 + data.length, 16);
  b.writeUInt32LE(f.flags, 20);
  b.writeUInt32LE(f.index, 24);
  b.writeUInt32LE(f.start, 28);
  b.writeUInt32LE(f.count, 32);
  b.set(data, 36);
  return b;
}

const closeAll = (es: EventFd[]): void =>
  es.forEach((e) => {
    e.close();
  });

describe('DEVICE_SET_IRQS', () => {
  let t: TestServer;
  let c: TestClient;
  let msiCap: number;
  let msixCap: number;
  eachClient({ command: 0x6 }, (server, client) => {
    t = server;
    c = client;
    msiCap = t.device.config.findCapability(0x05)!;
    msixCap = t.device.config.findCapability(0x11)!;
  });

  it('enables MSI-X with eventfds, loops back NONE and BOOL triggers, disables with count 0', async () => {
    const before = resources();
    const es = eventfds(2);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 2 },
        es.map((e) => e.fd),
      ),
    );
    assert.equal(t.device.irq.mode, 'msix');
    assert.ok((await c.read16(CONFIG, msixCap + 2)) & 0x8000, 'MSI-X Enable is set');
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, start: 0, count: 2 }));
    assert.deepEqual(
      es.map((e) => e.read()),
      [1, 1],
    );
    assertOk(await setIrqs(c, { data: 'bool', action: 'trigger', index: MSIX, start: 0, count: 2, bools: [0, 1] }));
    assert.deepEqual(
      es.map((e) => e.read()),
      [0, 1],
    );
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, start: 0, count: 0 }));
    assert.equal(t.device.irq.mode, 'none');
    assert.equal((await c.read16(CONFIG, msixCap + 2)) & 0x8000, 0, 'MSI-X Enable is clear');
    assert.equal(t.device.irq.boundEventFds, 0);
    closeAll(es);
    await assertNoLeak(before, 'MSI-X eventfds');
  });

  it('binds more vectors later, unbinds with no descriptors, replaces an eventfd (closing the old one)', async () => {
    const before = resources();
    const [a, b, d] = eventfds(3);
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 1 }, [a!.fd]));
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 5, count: 1 }, [b!.fd]));
    assert.equal(t.device.irq.boundEventFds, 2);
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 5, count: 1 }, [d!.fd]));
    assert.equal(t.device.irq.boundEventFds, 2);
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, start: 0, count: 8 }));
    assert.deepEqual([a!.read(), b!.read(), d!.read()], [1, 0, 1]);
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 1 }));
    assert.equal(t.device.irq.boundEventFds, 1);
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, start: 0, count: 8 }));
    assert.deepEqual([a!.read(), d!.read()], [0, 1]);
    closeAll([a!, b!, d!]);
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, start: 0, count: 0 }));
    await assertNoLeak(before);
  });

  it('enables MSI for start + count vectors (Multiple Message Enable rounded up)', async () => {
    const es = eventfds(3);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSI, start: 0, count: 3 },
        es.map((e) => e.fd),
      ),
    );
    const flags = await c.read16(CONFIG, msiCap + 2);
    assert.equal(flags & 1, 1, 'MSI Enable');
    assert.equal((flags >> 4) & 7, 2, 'MME = 4 vectors');
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSI, start: 0, count: 0 }));
    assert.equal((await c.read16(CONFIG, msiCap + 2)) & 1, 0);
    closeAll(es);
  });

  it('keeps modes exclusive (EINVAL) and refuses disabling a mode that is not enabled (EINVAL)', async () => {
    const [a, b, d] = eventfds(3);
    assertError(await setIrqs(c, { data: 'none', action: 'trigger', index: MSI, start: 0, count: 0 }), 'EINVAL', 'disable MSI when off');
    assertError(await setIrqs(c, { data: 'none', action: 'trigger', index: INTX, start: 0, count: 0 }), 'EINVAL', 'disable INTx when off');
    assertError(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, start: 0, count: 1 }), 'EINVAL', 'loopback when off');
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 1 }, [a!.fd]));
    assertError(
      await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSI, start: 0, count: 1 }, [b!.fd]),
      'EINVAL',
      'MSI while MSI-X',
    );
    assertError(
      await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, start: 0, count: 1 }, [d!.fd]),
      'EINVAL',
      'INTx while MSI-X',
    );
    assertError(await setIrqs(c, { data: 'none', action: 'trigger', index: MSI, start: 0, count: 0 }), 'EINVAL', 'disable MSI while MSI-X');
    assert.equal(t.device.irq.mode, 'msix');
    assert.equal(t.device.irq.boundEventFds, 1);
    closeAll([a!, b!, d!]);
  });

  it('answers MASK/UNMASK on MSI, MSI-X, ERR and REQ with ENOTTY, and INTx MASK with an eventfd too', async () => {
    const e = EventFd.create();
    for (const index of [MSI, MSIX, ERR, REQ]) {
      assertError(await setIrqs(c, { data: 'none', action: 'mask', index, start: 0, count: 1 }), 'ENOTTY', `MASK ${index}`);
      assertError(await setIrqs(c, { data: 'none', action: 'unmask', index, start: 0, count: 1 }), 'ENOTTY', `UNMASK ${index}`);
    }
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, count: 1 }, [e.fd]));
    const m = EventFd.create();
    assertError(await setIrqs(c, { data: 'eventfd', action: 'mask', index: INTX, count: 1 }, [m.fd]), 'ENOTTY');
    m.close();
    e.close();
  });

  it('handles INTx: enable, mask/unmask, loopback, the unmask eventfd, disable', async () => {
    const before = resources();
    const trigger = EventFd.create();
    const unmask = EventFd.create();
    assertError(await setIrqs(c, { data: 'none', action: 'mask', index: INTX, count: 1 }), 'EINVAL', 'MASK before enable');
    assertError(await setIrqs(c, { data: 'none', action: 'unmask', index: INTX, count: 1 }), 'EINVAL', 'UNMASK before enable');
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, count: 1 }, [trigger.fd]));
    assert.equal(t.device.irq.mode, 'intx');
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: INTX, count: 1 }));
    assert.equal(trigger.read(), 1, 'loopback');
    assertOk(await setIrqs(c, { data: 'bool', action: 'mask', index: INTX, count: 1, bools: [1] }));
    assert.equal(t.device.irq.intxMasked, true);
    assertOk(await setIrqs(c, { data: 'bool', action: 'unmask', index: INTX, count: 1, bools: [0] }));
    assert.equal(t.device.irq.intxMasked, true, 'a false bool does nothing');
    assertOk(await setIrqs(c, { data: 'none', action: 'unmask', index: INTX, count: 1 }));
    assert.equal(t.device.irq.intxMasked, false);
    // The unmask eventfd: signalling it unmasks (the kernel's virqfd).
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'unmask', index: INTX, count: 1 }, [unmask.fd]));
    assertOk(await setIrqs(c, { data: 'none', action: 'mask', index: INTX, count: 1 }));
    unmask.signal();
    for (let i = 0; i < 100 && t.device.irq.intxMasked; i++) await sleep(2);
    assert.equal(t.device.irq.intxMasked, false, 'unmasked through the eventfd');
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | IRQ_SET_ACTION_MASK, index: INTX, start: 0, count: 0 })),
      'EINVAL',
      'count 0 MASK',
    );
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: INTX, count: 0 }));
    assert.equal(t.device.irq.mode, 'none');
    assert.equal(t.device.irq.boundEventFds, 0);
    trigger.close();
    unmask.close();
    await assertNoLeak(before);
  });

  it('handles ERR and REQ: bind, loopback, unbind, and EINVAL with nothing bound', async () => {
    for (const index of [ERR, REQ]) {
      const e = EventFd.create();
      assertError(await setIrqs(c, { data: 'none', action: 'trigger', index, count: 1 }), 'EINVAL', 'NONE with nothing bound');
      assertError(await setIrqs(c, { data: 'none', action: 'trigger', index, count: 0 }), 'EINVAL', 'disable with nothing bound');
      assertOk(await setIrqs(c, { data: 'bool', action: 'trigger', index, count: 1, bools: [1] }), 'BOOL with nothing bound');
      assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index, count: 1 }, [e.fd]));
      assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index, count: 1 }));
      assertOk(await setIrqs(c, { data: 'bool', action: 'trigger', index, count: 1, bools: [1] }));
      assert.equal(e.read(), 2);
      assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index, count: 0 }), 'NONE count 0 unbinds');
      assertError(await setIrqs(c, { data: 'none', action: 'trigger', index, count: 1 }), 'EINVAL');
      assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index, count: 1 }, [e.fd]));
      assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index, count: 1 }), 'no descriptor unbinds');
      assertError(await setIrqs(c, { data: 'none', action: 'trigger', index, count: 1 }), 'EINVAL');
      e.close();
    }
  });

  it('keeps ERR/REQ independent of the interrupt mode', async () => {
    const [req, vec] = eventfds(2);
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [req!.fd]));
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSI, count: 1 }, [vec!.fd]));
    await c.write32(0, REG.REQ, 1);
    assert.equal(req!.read(), 1);
    closeAll([req!, vec!]);
  });

  it('refuses bad indexes and ranges (EINVAL)', async () => {
    const e = EventFd.create();
    assertError(await setIrqs(c, { data: 'none', action: 'trigger', index: 5, count: 1 }), 'EINVAL', 'index 5');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSI, start: 4, count: 1 }, [e.fd]), 'EINVAL', 'MSI start 4');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSI, start: 3, count: 2 }), 'EINVAL', 'MSI 3+2');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 9 }), 'EINVAL', 'MSI-X 9');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, start: 1, count: 1 }), 'EINVAL', 'INTx start 1');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: ERR, start: 0, count: 2 }), 'EINVAL', 'ERR count 2');
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | IRQ_SET_ACTION_TRIGGER, index: MSIX, start: 0xffffffff, count: 2 })),
      'EINVAL',
      'wrapping range',
    );
    assert.equal(t.device.irq.mode, 'none');
    e.close();
  });

  it('refuses bad flag combinations and payloads (EINVAL)', async () => {
    const T = IRQ_SET_ACTION_TRIGGER;
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | IRQ_SET_DATA_BOOL | T, index: MSIX, start: 0, count: 1 }, [1])),
      'EINVAL',
      'two data types',
    );
    assertError(await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE, index: MSIX, start: 0, count: 1 })), 'EINVAL', 'no action');
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | T | 0x18, index: MSIX, start: 0, count: 1 })),
      'EINVAL',
      'three actions',
    );
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | T | 0x40, index: MSIX, start: 0, count: 1 })),
      'EINVAL',
      'unknown bit',
    );
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_BOOL | T, index: MSIX, start: 0, count: 2 }, [1])),
      'EINVAL',
      'bools short',
    );
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | T, index: MSIX, start: 0, count: 1 }, [1])),
      'EINVAL',
      'data with NONE',
    );
    assertError(
      await c.request(raw(c.id(), { argsz: 24, flags: IRQ_SET_DATA_NONE | T, index: MSIX, start: 0, count: 1 })),
      'EINVAL',
      'argsz',
    );
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_EVENTFD | T, index: MSIX, start: 1, count: 0 })),
      'EINVAL',
      'count 0 with start 1',
    );
    const short = raw(c.id(), { flags: IRQ_SET_DATA_NONE | T, index: MSIX, start: 0, count: 1 }).subarray(0, 30);
    short.writeUInt32LE(30, 4);
    assertError(await c.request(short), 'EINVAL', 'truncated');
  });

  it('refuses wrong descriptor counts and non-eventfds (EINVAL), releasing every descriptor', async () => {
    const before = resources();
    const es = eventfds(3);
    const mem = new ClientMemory(4096);
    const ET = IRQ_SET_DATA_EVENTFD | IRQ_SET_ACTION_TRIGGER;
    assertError(
      await c.request(
        raw(c.id(), { flags: ET, index: MSIX, start: 0, count: 3 }),
        es.slice(0, 2).map((e) => e.fd),
      ),
      'EINVAL',
      '2 fds for 3',
    );
    assertError(
      await c.request(raw(c.id(), { flags: IRQ_SET_DATA_NONE | IRQ_SET_ACTION_TRIGGER, index: MSIX, start: 0, count: 1 }), [es[0]!.fd]),
      'EINVAL',
      'fd with NONE',
    );
    assertError(
      await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 2 }, [es[0]!.fd, mem.memfd.fd]),
      'EINVAL',
      'a memfd',
    );
    assert.equal(t.device.irq.mode, 'none', 'a failed enable leaves the mode disabled');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [mem.memfd.fd]), 'EINVAL', 'REQ memfd');
    assert.equal(t.device.irq.boundEventFds, 0);
    closeAll(es);
    mem.close();
    await assertNoLeak(before);
  });
});

describe('DEVICE_SET_IRQS on a conventional function without INTx', () => {
  let t: TestServer;
  before(() => {
    t = startServer({ device: { pin: 0, pcie: false } });
  });
  after(() => t.stop());

  it('refuses INTx and ERR (no such vectors: EINVAL)', async () => {
    const c = await TestClient.open(t.path);
    const e = EventFd.create();
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, count: 1 }, [e.fd]), 'EINVAL');
    assertError(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: ERR, count: 1 }), 'EINVAL');
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [e.fd]));
    e.close();
    c.close();
    await c.ended;
  });
});
