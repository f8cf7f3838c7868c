// VERSION: negotiation, the limits advertised, and what the server does with
// anything else first or with a VERSION it cannot accept (error reply, close).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Command, MessageType, decodeVersionReply, encodeDeviceGetInfoRequest, encodeVersionRequest } from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { assertError, assertOk, DEFAULT_CAPS, sleep, startServer, TestClient, type TestServer, rawRequest } from './helpers.js';

function versionMessage(id: number, payload: Uint8Array): Buffer {
  const b = rawRequest(Command.VERSION, id, payload.length);
  b.set(payload, 16);
  return b;
}

describe('VERSION', () => {
  let t: TestServer;
  before(() => {
    t = startServer({ server: { maxDataXferSize: 65536, maxMsgFds: 4, maxDmaMaps: 10, handshakeTimeoutMs: 200 } });
  });
  after(() => t.stop());

  it('negotiates and answers with the server limits, only for what was proposed', async () => {
    const c = TestClient.connect(t.path);
    const id = c.id();
    const r = await c.request(
      encodeVersionRequest(id, {
        major: 0,
        minor: 2,
        capabilities: { maxMsgFds: 8, maxDataXferSize: 1 << 20, maxDmaMaps: 100, writeMultiple: true },
      }),
    );
    assertOk(r);
    assert.equal(r.header.msgId, id);
    assert.equal(r.header.command, Command.VERSION);
    assert.equal(r.header.flags, MessageType.REPLY);
    const v = decodeVersionReply(r.message);
    assert.equal(v.major, 0);
    assert.equal(v.minor, 2);
    assert.deepEqual(v.capabilities, { maxMsgFds: 4, maxDataXferSize: 65536, maxDmaMaps: 10, writeMultiple: true });
    assert.equal(t.server.owner?.id, t.server.clients[0]?.id);
    c.close();
    await t.server.settled();
    await sleep(10);
    await t.server.settled();
  });

  it('settles on the lower minor version and echoes only proposed capabilities', async () => {
    const c = TestClient.connect(t.path);
    const r = await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 0, capabilities: { pgsizes: 4096 | 65536 } }));
    assertOk(r);
    const v = decodeVersionReply(r.message);
    assert.equal(v.minor, 0);
    assert.deepEqual(v.capabilities, { pgsizes: 4096 });
    c.close();
    await c.ended;
    await sleep(5);
    await t.server.settled();
  });

  it('accepts a VERSION without version data', async () => {
    const c = TestClient.connect(t.path);
    const r = await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 1 }));
    assertOk(r);
    assert.equal(decodeVersionReply(r.message).minor, 1);
    c.close();
    await sleep(5);
    await t.server.settled();
  });

  it('answers another major version ENOTSUP and closes', async () => {
    const c = TestClient.connect(t.path);
    assertError(await c.request(encodeVersionRequest(c.id(), { major: 1, minor: 0, capabilities: {} })), 'ENOTSUP');
    await c.ended;
  });

  it('answers no common page size ENOTSUP and closes', async () => {
    const c = TestClient.connect(t.path);
    assertError(await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 2, capabilities: { pgsizes: 1 << 21 } })), 'ENOTSUP');
    await c.ended;
  });

  for (const [what, payload] of [
    ['truncated (2 bytes)', Buffer.from([0, 0])],
    ['JSON without its NUL', Buffer.concat([Buffer.from([0, 0, 2, 0]), Buffer.from('{"capabilities":{}}')])],
    ['malformed JSON', Buffer.concat([Buffer.from([0, 0, 2, 0]), Buffer.from('{"capabilities":\0')])],
    ['a capability of the wrong type', Buffer.concat([Buffer.from([0, 0, 2, 0]), Buffer.from('{"capabilities":{"max_msg_fds":"x"}}\0')])],
    ['JSON that is not an object', Buffer.concat([Buffer.from([0, 0, 2, 0]), Buffer.from('[1]\0')])],
  ] as const) {
    it(`answers a malformed VERSION (${what}) EINVAL and closes`, async () => {
      const c = TestClient.connect(t.path);
      assertError(await c.request(versionMessage(c.id(), payload)), 'EINVAL');
      await c.ended;
    });
  }

  it('answers a VERSION carrying a descriptor EINVAL and closes (and closes the descriptor)', async () => {
    const c = TestClient.connect(t.path);
    const e = EventFd.create();
    assertError(await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 2, capabilities: DEFAULT_CAPS }), [e.fd]), 'EINVAL');
    await c.ended;
    e.close();
  });

  it('answers anything before VERSION EINVAL and closes', async () => {
    const c = TestClient.connect(t.path);
    assertError(await c.request(encodeDeviceGetInfoRequest(c.id())), 'EINVAL');
    await c.ended;
  });

  it('answers an unknown command before VERSION with its own error and closes', async () => {
    const c = TestClient.connect(t.path);
    const m = versionMessage(c.id(), Buffer.alloc(4));
    m.writeUInt16LE(99, 2);
    assertError(await c.request(m), 'ENOSYS');
    await c.ended;
  });

  it('answers a second VERSION EINVAL and keeps the connection', async () => {
    const c = await TestClient.open(t.path);
    assertError(
      await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 2, capabilities: DEFAULT_CAPS })),
      'EINVAL',
      'second VERSION',
    );
    assertOk(await c.request(encodeDeviceGetInfoRequest(c.id())));
    c.close();
    await sleep(5);
    await t.server.settled();
  });

  it('answers a VERSION reply-typed message with EINVAL (it matches no request) and closes, as for any other first message', async () => {
    const c = TestClient.connect(t.path);
    const m = encodeVersionRequest(c.id(), { major: 0, minor: 2 });
    m.writeUInt32LE(MessageType.REPLY, 8);
    const before = t.warnings.length;
    assertError(await c.request(m), 'EINVAL', 'a VERSION reply');
    assert.ok(t.warnings.slice(before).some((w) => w.code === 'unmatched-reply'));
    await c.ended;
    assert.equal(t.server.owner, undefined);
    await t.server.settled();
  });

  it('closes a connection that sends no VERSION in time', async () => {
    const c = TestClient.connect(t.path);
    const started = Date.now();
    await c.ended;
    assert.ok(Date.now() - started >= 150, 'waited for the handshake timeout');
  });
});
