// Interrupt delivery through eventfds, as the device model raises them: INTx
// (level, automask, unmask, INTx Disable, status bit), MSI (per-vector masks
// and pending bits), MSI-X (table masks, function mask, PBA, unbinding as
// masking), REQ and ERR, and a DMA completion interrupt.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventFd } from '../../src/sys/index.js';
import { DMA_IRQ, DMA_START, DMA_WAIT, REG } from './fixtures/test-device.js';
import { assertOk, CONFIG, ERR, eventfds, INTX, MSI, MSIX, REQ, setIrqs, type TestClient, type TestServer, eachClient } from './helpers.js';
import { DMA_MAP_FLAG_READ, DMA_MAP_FLAG_WRITE, encodeDmaMapRequest } from '../../src/protocol/index.js';

const DELIVERED = 0;
const PENDING = 1;
const DROPPED = 2;

describe('interrupt delivery', () => {
  let t: TestServer;
  let c: TestClient;
  let msiCap: number;
  eachClient({ command: 0x6 }, (server, client) => {
    t = server;
    c = client;
    msiCap = t.device.config.findCapability(0x05)!;
  });

  const raise = async (reg: number, v: number): Promise<number> => {
    await c.write32(0, reg, v);
    return t.model.reg(REG.IRQ_RESULT);
  };

  it('INTx: level-triggered, masked on delivery until unmasked, status bit follows the line', async () => {
    const e = EventFd.create();
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, count: 1 }, [e.fd]));
    assert.equal(await raise(REG.INTX, 1), DELIVERED);
    assert.equal(e.read(), 1);
    assert.ok((await c.read16(CONFIG, 6)) & 0x08, 'Interrupt Status set');
    assert.equal(t.device.irq.intxMasked, true, 'auto-masked');
    assert.equal(await raise(REG.INTX, 1), PENDING, 'already asserted');
    assert.equal(e.read(), 0);
    assertOk(await setIrqs(c, { data: 'none', action: 'unmask', index: INTX, count: 1 }));
    assert.equal(e.read(), 1, 'unmasking a still-asserted line delivers again');
    assert.equal(t.device.irq.intxMasked, true);
    await raise(REG.INTX, 0);
    assert.equal((await c.read16(CONFIG, 6)) & 0x08, 0, 'Interrupt Status clear');
    assertOk(await setIrqs(c, { data: 'none', action: 'unmask', index: INTX, count: 1 }));
    assert.equal(t.device.irq.intxMasked, false);
    assert.equal(e.read(), 0);
    assert.equal(await raise(REG.INTX, 1), DELIVERED);
    assert.equal(e.read(), 1);
    await raise(REG.INTX, 0);
    e.close();
  });

  it('INTx: INTx Disable holds delivery back, clearing it delivers', async () => {
    const e = EventFd.create();
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, count: 1 }, [e.fd]));
    await c.write16(CONFIG, 4, 0x6 | 0x400);
    assert.equal(await raise(REG.INTX, 1), PENDING);
    assert.equal(e.read(), 0);
    assert.ok((await c.read16(CONFIG, 6)) & 0x08, 'status shows the line regardless');
    await c.write16(CONFIG, 4, 0x6);
    assert.equal(e.read(), 1, 'delivered when INTx Disable cleared');
    await raise(REG.INTX, 0);
    e.close();
  });

  it('INTx: a line asserted before INTx is enabled fires on enable; not delivered in MSI mode', async () => {
    assert.equal(await raise(REG.INTX, 1), PENDING);
    const e = EventFd.create();
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: INTX, count: 1 }, [e.fd]));
    assert.equal(e.read(), 1);
    await raise(REG.INTX, 0);
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: INTX, count: 0 }));
    const v = EventFd.create();
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSI, count: 1 }, [v.fd]));
    assert.equal(await raise(REG.INTX, 1), PENDING);
    assert.equal(e.read() + v.read(), 0);
    await raise(REG.INTX, 0);
    e.close();
    v.close();
  });

  it('MSI: vectors below the enabled count, per-vector masks set pending bits delivered on unmask', async () => {
    const es = eventfds(4);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSI, count: 4 },
        es.map((e) => e.fd),
      ),
    );
    for (let v = 0; v < 4; v++) assert.equal(await raise(REG.MSI, v), DELIVERED);
    assert.deepEqual(
      es.map((e) => e.read()),
      [1, 1, 1, 1],
    );
    assert.equal(await raise(REG.MSI, 4), DROPPED, 'beyond the enabled vectors');
    await c.write32(CONFIG, msiCap + 0x10, 0b0010);
    assert.equal(await raise(REG.MSI, 1), PENDING);
    assert.equal(es[1]!.read(), 0);
    assert.equal(await c.read32(CONFIG, msiCap + 0x14), 0b0010, 'pending bit visible');
    await c.write32(CONFIG, msiCap + 0x10, 0);
    assert.equal(es[1]!.read(), 1, 'delivered on unmask');
    assert.equal(await c.read32(CONFIG, msiCap + 0x14), 0);
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSI, count: 0 }));
    assert.equal(await raise(REG.MSI, 0), DROPPED, 'MSI disabled');
    es.forEach((e) => {
      e.close();
    });
  });

  it('MSI: two vectors enabled, the rest dropped; signal() picks the enabled mode', async () => {
    const es = eventfds(2);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSI, count: 2 },
        es.map((e) => e.fd),
      ),
    );
    assert.equal(await raise(REG.MSI, 2), DROPPED);
    assert.equal(t.device.irq.signal(1), 'delivered');
    assert.equal(es[1]!.read(), 1);
    es.forEach((e) => {
      e.close();
    });
  });

  it('MSI-X: binding unmasks, table masks and the PBA hold vectors until unmasked', async () => {
    const es = eventfds(8);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSIX, count: 8 },
        es.map((e) => e.fd),
      ),
    );
    assert.equal((await c.read(4, 3 * 16 + 12, 4)).readUInt32LE(0), 0, 'bound vectors are unmasked');
    assert.equal(await raise(REG.MSIX, 3), DELIVERED);
    assert.equal(es[3]!.read(), 1);
    await c.write32(4, 3 * 16 + 12, 1); // mask entry 3
    assert.equal(await raise(REG.MSIX, 3), PENDING);
    assert.equal(es[3]!.read(), 0);
    assert.equal((await c.read(4, 0x1000, 8))[0], 0b1000, 'PBA bit 3');
    await c.write32(4, 3 * 16 + 12, 0);
    assert.equal(es[3]!.read(), 1, 'delivered on unmask');
    assert.equal((await c.read(4, 0x1000, 8))[0], 0, 'PBA clear');
    t.device.config.setMsixFunctionMask(true);
    assert.equal(await raise(REG.MSIX, 5), PENDING, 'function mask');
    assert.ok((await c.read16(CONFIG, t.device.config.findCapability(0x11)! + 2)) & 0x4000);
    t.device.config.setMsixFunctionMask(false);
    assert.equal(es[5]!.read(), 1);
    assert.equal(await raise(REG.MSIX, 8), DROPPED, 'beyond the table');
    es.forEach((e) => {
      e.close();
    });
  });

  it('MSI-X: unbinding masks (pending in the PBA), rebinding delivers what is pending', async () => {
    const es = eventfds(3);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSIX, count: 3 },
        es.map((e) => e.fd),
      ),
    );
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 2, count: 1 }));
    assert.equal(await raise(REG.MSIX, 2), PENDING);
    assert.equal((await c.read(4, 0x1000, 1))[0], 0b100);
    const again = EventFd.create();
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 2, count: 1 }, [again.fd]));
    assert.equal(again.read(), 1, 'the pending vector fires on the new eventfd');
    assert.equal((await c.read(4, 0x1000, 1))[0], 0);
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: MSIX, count: 0 }));
    assert.equal(await raise(REG.MSIX, 0), DROPPED);
    es.forEach((e) => {
      e.close();
    });
    again.close();
  });

  it('REQ and ERR signal their eventfds; without one they report nothing bound', async () => {
    assert.equal(await raise(REG.REQ, 1), 3);
    assert.equal(await raise(REG.ERR, 1), 3);
    const [req, err] = eventfds(2);
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [req!.fd]));
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: ERR, count: 1 }, [err!.fd]));
    assert.equal(await raise(REG.REQ, 1), DELIVERED);
    assert.equal(await raise(REG.REQ, 1), DELIVERED, 'repeatable');
    assert.equal(await raise(REG.ERR, 1), DELIVERED);
    assert.equal(req!.read(), 2);
    assert.equal(err!.read(), 1);
    req!.close();
    err!.close();
  });

  it('raises a completion interrupt after a DMA copy', async () => {
    const src = new Uint8Array(4096).fill(0x42);
    const dst = new Uint8Array(4096);
    c.memory.push({ iova: 0x10000n, bytes: src }, { iova: 0x20000n, bytes: dst });
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: DMA_MAP_FLAG_READ, address: 0x10000n, size: 4096n })));
    assertOk(
      await c.request(encodeDmaMapRequest(c.id(), { flags: DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE, address: 0x20000n, size: 4096n })),
    );
    const es = eventfds(2);
    assertOk(
      await setIrqs(
        c,
        { data: 'eventfd', action: 'trigger', index: MSIX, count: 2 },
        es.map((e) => e.fd),
      ),
    );
    await c.write32(0, REG.DMA_SRC, 0x10000);
    await c.write32(0, REG.DMA_DST, 0x20000);
    await c.write32(0, REG.DMA_LEN, 4096);
    await c.write32(0, REG.IRQ_VEC, 1);
    await c.write32(0, REG.DMA_CMD, DMA_START | DMA_IRQ | DMA_WAIT);
    assert.equal(es[1]!.read(), 1);
    assert.equal(dst[4095], 0x42);
    es.forEach((e) => {
      e.close();
    });
  });
});
