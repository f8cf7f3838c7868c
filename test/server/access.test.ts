// Access control: the socket file's mode and owner, the SO_PEERCRED
// allow-list (a refused peer's first message gets EPERM, then it is cut off),
// a live socket path (EADDRINUSE), a stale one (replaced), cleanup on close.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { encodeRegionReadRequest, encodeVersionRequest } from '../../src/protocol/index.js';
import { SERVING_LINGER_US, VfioUserServer, type ClientEvent, type ClientInfo } from '../../src/server/server.js';
import { TestDevice } from './fixtures/test-device.js';
import { assertError, assertNoLeak, CONFIG, resources, sleep, startServer, TestClient } from './helpers.js';

describe('access control', () => {
  it('sets the socket file mode', async () => {
    const t = startServer({ server: { socketMode: 0o600 } });
    assert.equal(statSync(t.path).mode & 0o777, 0o600);
    await t.stop();
    const u = startServer({ server: { socketMode: 0o660 } });
    assert.equal(statSync(u.path).mode & 0o777, 0o660);
    await u.stop();
  });

  it('sets the socket file owner (when permitted)', async (ctx) => {
    if (process.getuid!() !== 0) {
      ctx.skip('chown to another user needs root');
      return;
    }
    const t = startServer({ server: { socketMode: 0o660, socketUid: 4242, socketGid: 4343 } });
    const st = statSync(t.path);
    assert.equal(st.uid, 4242);
    assert.equal(st.gid, 4343);
    await t.stop();
  });

  it('refuses a peer that is not on the allow-list: its VERSION gets EPERM, then the connection closes', async () => {
    const before = resources();
    const t = startServer({ server: { allowUids: [process.getuid!() + 4242], allowGids: [process.getgid!() + 4242] } });
    const events: ClientEvent[] = [];
    t.server.on('client', (e) => events.push(e));
    const c = TestClient.connect(t.path);
    const reply = await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 2 }));
    assertError(reply, 'EPERM', 'VERSION of a refused peer');
    await c.ended;
    assert.equal(events.length, 1, `events: ${JSON.stringify(events)}`);
    assert.equal(events[0]!.type, 'refused');
    assert.equal(events[0]!.uid, process.getuid!());
    assert.match(events[0]!.reason!, /allow-list/);
    assert.equal(t.server.clients.length, 0);
    assert.equal(t.server.owner, undefined);
    await t.stop();
    await assertNoLeak(before);
  });

  it('answers EPERM to whatever a refused peer sends first, and never lets it reach the device', async () => {
    const t = startServer({ server: { allowUids: [process.getuid!() + 4242] } });
    const c = TestClient.connect(t.path);
    assert.equal(t.server.clients.length, 0, 'a refused peer is not listed as a client');
    const r = await c.request(encodeRegionReadRequest(c.id(), CONFIG, 0, 4));
    assertError(r, 'EPERM', 'REGION_READ of a refused peer');
    await c.ended;
    assert.deepEqual(t.model.owners, [], 'the device never had an owner');
    await t.stop();
  });

  it('admits a peer on the allow-list by uid or by gid', async () => {
    for (const opts of [{ allowUids: [process.getuid!()] }, { allowUids: [], allowGids: [process.getgid!()] }]) {
      const t = startServer({ server: opts });
      const c = await TestClient.open(t.path);
      assert.equal(t.server.owner?.uid, process.getuid!());
      c.close();
      await t.stop();
    }
  });

  it('refuses to listen on a live socket (EADDRINUSE) and removes its own socket file on close', async () => {
    const t = startServer();
    assert.throws(
      () => VfioUserServer.listen(t.path, new TestDevice()),
      (e: { code?: string }) => e.code === 'EADDRINUSE',
    );
    assert.ok(existsSync(t.path), 'the live server keeps its socket');
    await t.server.close();
    assert.ok(!existsSync(t.path));
    const again = VfioUserServer.listen(t.path, new TestDevice());
    assert.equal(again.listening, true);
    await again.close();
    assert.equal(again.listening, false);
    await t.stop();
  });

  it('lingers for clients in other processes only (a client on our own loop could not send meanwhile)', async () => {
    const t = startServer({ server: { lingerUs: 700 } });
    const local = await TestClient.open(t.path);
    const child = spawn(process.execPath, ['-e', 'require("net").connect(process.argv[1]); setInterval(() => {}, 1000)', t.path], {
      stdio: 'ignore',
    });
    try {
      let info: ClientInfo | undefined;
      for (let i = 0; i < 500 && !info; i++) {
        info = t.server.clients.find((c) => c.pid === child.pid);
        if (!info) await sleep(10);
      }
      assert.ok(info, 'the child connected');
      assert.equal(info.lingerUs, 700);
      assert.equal(t.server.clients.find((c) => c.pid === process.pid)?.lingerUs, 0);
    } finally {
      child.kill();
      local.close();
      await t.stop();
    }
  });

  it('checks lingerUs (0..1000000 us) at construction', async () => {
    for (const bad of [-1, 1.5, 2_000_000, Number.NaN]) {
      assert.throws(() => new VfioUserServer(new TestDevice(), { lingerUs: bad }), RangeError, String(bad));
    }
    for (const good of [0, 1, 1_000_000]) await new VfioUserServer(new TestDevice(), { lingerUs: good }).close();
  });

  it('does not linger unless asked (the library default is 0; serve and the broker pass SERVING_LINGER_US)', async () => {
    const s = new VfioUserServer(new TestDevice());
    assert.equal(s.limits.lingerUs, 0);
    await s.close();
    assert.equal(SERVING_LINGER_US, 1000);
    const t = startServer();
    const child = spawn(process.execPath, ['-e', 'require("net").connect(process.argv[1]); setInterval(() => {}, 1000)', t.path], {
      stdio: 'ignore',
    });
    try {
      let info: ClientInfo | undefined;
      for (let i = 0; i < 500 && !info; i++) {
        info = t.server.clients.find((c) => c.pid === child.pid);
        if (!info) await sleep(10);
      }
      assert.ok(info, 'the child connected');
      assert.equal(info.lingerUs, 0, 'a client in another process gets no lingering by default');
    } finally {
      child.kill();
      await t.stop();
    }
  });
});
