// VFIO_USER_VERSION: payload, JSON capabilities, defaults, negotiation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAPABILITY_DEFAULTS,
  Command,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  acceptVersionReply,
  decodeVersionPayload,
  decodeVersionReply,
  decodeVersionRequest,
  encodeErrorReply,
  encodeVersionReply,
  encodeVersionRequest,
  negotiateVersion,
  resolveCapabilities,
  type VersionOffer,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, u16 } from './helpers.js';

function payloadWith(json: string | Uint8Array, major = 0, minor = 2): Buffer {
  const data = typeof json === 'string' ? Buffer.from(json + '\0', 'utf8') : Buffer.from(json);
  return bytes(u16(major), u16(minor), data);
}

function request(json: string | Uint8Array, major = 0, minor = 2): Buffer {
  return msg(1, Command.VERSION, 0, payloadWith(json, major, minor));
}

// What QEMU's vfio-user client proposes (hw/vfio-user/proxy.c caps_json()).
const QEMU_JSON =
  '{"capabilities": {"migration": {"pgsize": 4096, "max_bitmap_size": 268435456}, "max_msg_fds": 16, ' +
  '"max_data_xfer_size": 1048576, "pgsizes": 4096, "max_dma_maps": 65535, "write_multiple": true}}';

test('we speak protocol 0.2', () => {
  assert.equal(PROTOCOL_MAJOR, 0);
  assert.equal(PROTOCOL_MINOR, 2);
});

test('request encodes major, minor, then NUL-terminated JSON', () => {
  const json = '{"capabilities":{"max_msg_fds":8,"max_data_xfer_size":65536}}';
  const expected = bytes(hdr(0x55, 1, 16 + 4 + json.length + 1, 0), u16(0), u16(2), Buffer.from(json), [0]);
  const got = encodeVersionRequest(0x55, { major: 0, minor: 2, capabilities: { maxMsgFds: 8, maxDataXferSize: 65536 } });
  assert.deepEqual(got, expected);
});

test('version data is optional: no capabilities, no JSON', () => {
  assert.deepEqual(encodeVersionReply(3, { major: 0, minor: 1 }), bytes(hdr(3, 1, 20, 1), u16(0), u16(1)));
  const v = decodeVersionReply(bytes(hdr(3, 1, 20, 1), u16(0), u16(1)));
  assert.deepEqual(v, { major: 0, minor: 1 });
  assert.deepEqual(resolveCapabilities(v.capabilities), {
    maxMsgFds: 1,
    maxDataXferSize: 1048576,
    maxDmaMaps: 65535,
    pgsizes: 4096,
    migration: undefined,
    twinSocket: false,
    writeMultiple: false,
  });
});

test("decodes QEMU's proposal", () => {
  const v = decodeVersionRequest(request(QEMU_JSON, 0, 0));
  assert.deepEqual(v, {
    major: 0,
    minor: 0,
    capabilities: {
      maxMsgFds: 16,
      maxDataXferSize: 1048576,
      maxDmaMaps: 65535,
      pgsizes: 4096,
      migration: { pgsize: 4096, maxBitmapSize: 268435456 },
      writeMultiple: true,
    },
  });
});

test("decodes libvfio-user's reply with a twin socket", () => {
  const v = decodeVersionPayload(
    payloadWith(
      '{ "capabilities": { "max_msg_fds": 8, "max_data_xfer_size": 1048576, "twin_socket": { "supported": true, "fd_index": 0 } } }',
      0,
      1,
    ),
  );
  assert.deepEqual(v.capabilities, { maxMsgFds: 8, maxDataXferSize: 1048576, twinSocket: { supported: true, fdIndex: 0 } });
});

test('JSON without "capabilities" means all defaults; unknown members are ignored', () => {
  assert.deepEqual(decodeVersionPayload(payloadWith('{}')).capabilities, {});
  assert.deepEqual(decodeVersionPayload(payloadWith('{"other": 1}')).capabilities, {});
  assert.deepEqual(
    decodeVersionPayload(payloadWith('{"capabilities": {"future_thing": [1,2], "max_msg_fds": 2, "migration": {"x": 1}}}')).capabilities,
    { maxMsgFds: 2, migration: {} },
  );
  assert.deepEqual(resolveCapabilities({ migration: {} }).migration, { pgsize: 4096, maxBitmapSize: 256 * 1024 * 1024 });
});

test('encode/decode round trip of every capability', () => {
  const caps = {
    maxMsgFds: 32,
    maxDataXferSize: 4 << 20,
    pgsizes: 0x40201000,
    maxDmaMaps: 1000,
    migration: { pgsize: 8192, maxBitmapSize: 1 << 20 },
    twinSocket: { supported: true, fdIndex: 0 },
    writeMultiple: false,
  };
  const m = encodeVersionReply(9, { major: 0, minor: 2, capabilities: caps });
  assert.deepEqual(decodeVersionReply(m), { major: 0, minor: 2, capabilities: caps });
});

test('payload and JSON errors are EINVAL', () => {
  const cases: [Buffer, RegExp][] = [
    [msg(1, 1, 0, [0, 0, 2]), /truncated/],
    [msg(1, 1, 0, payloadWith(Buffer.from('{}'))), /not NUL-terminated/],
    [msg(1, 1, 0, payloadWith(Buffer.from('{}\0{}\0'))), /NUL at byte 2/],
    [msg(1, 1, 0, payloadWith(Buffer.from([0x7b, 0xff, 0x7d, 0]))), /not valid UTF-8/],
    [request('{"capabilities": '), /not JSON/],
    [request('[1, 2]'), /not a JSON object/],
    [request('"text"'), /not a JSON object/],
    [request('{"capabilities": 5}'), /capabilities must be an object/],
    [request('{"capabilities": []}'), /capabilities must be an object/],
    [request('{"capabilities": {"max_msg_fds": "8"}}'), /max_msg_fds must be an integer/],
    [request('{"capabilities": {"max_msg_fds": -1}}'), /max_msg_fds/],
    [request('{"capabilities": {"max_msg_fds": 1.5}}'), /max_msg_fds/],
    [request('{"capabilities": {"max_data_xfer_size": 0}}'), /max_data_xfer_size must be an integer >= 1/],
    [request('{"capabilities": {"max_data_xfer_size": 1152921504606846976}}'), /below 2\^53/],
    [request('{"capabilities": {"pgsizes": 0}}'), /pgsizes/],
    [request('{"capabilities": {"max_dma_maps": null}}'), /max_dma_maps/],
    [request('{"capabilities": {"migration": true}}'), /migration must be an object/],
    [request('{"capabilities": {"migration": {"pgsize": 3000}}}'), /not a power of two/],
    [request('{"capabilities": {"migration": {"max_bitmap_size": "big"}}}'), /max_bitmap_size/],
    [request('{"capabilities": {"twin_socket": {"supported": "yes"}}}'), /twin_socket.supported must be a boolean/],
    [request('{"capabilities": {"twin_socket": {"fd_index": -1}}}'), /fd_index/],
    [request('{"capabilities": {"twin_socket": 1}}'), /twin_socket must be an object/],
    [request('{"capabilities": {"write_multiple": 1}}'), /write_multiple must be a boolean/],
  ];
  for (const [m, re] of cases) assertErrno(() => decodeVersionRequest(m), 'EINVAL', re);
});

test('a VERSION request carries no descriptors; the wrong type is EINVAL', () => {
  assertErrno(() => decodeVersionRequest(request('{}'), [5]), 'EINVAL', /no file descriptors/);
  assertErrno(() => decodeVersionReply(request('{}')), 'EINVAL', /got a command/);
  assertErrno(() => decodeVersionReply(encodeErrorReply({ msgId: 1, command: 1 }, 'ENOTSUP')), 'ENOTSUP');
});

test('the encoder refuses values it would refuse to receive', () => {
  assertErrno(() => encodeVersionRequest(1, { major: 0, minor: 2, capabilities: { pgsizes: 0 } }), 'EINVAL');
  assertErrno(() => encodeVersionRequest(1, { major: 0x10000, minor: 2 }), 'EINVAL');
  assertErrno(() => encodeVersionRequest(1, { major: 0, minor: 2, capabilities: { migration: { pgsize: 5 } } }), 'EINVAL');
});

const server: VersionOffer = {
  major: 0,
  minor: 2,
  capabilities: { maxMsgFds: 8, maxDataXferSize: 1 << 20, pgsizes: 4096 | (2 << 20), maxDmaMaps: 1024, writeMultiple: true },
};

test("server negotiation with QEMU's proposal: lower minor, only proposed capabilities", () => {
  const client = decodeVersionRequest(request(QEMU_JSON, 0, 0));
  const { reply, session } = negotiateVersion(client, server);
  assert.deepEqual(reply, {
    major: 0,
    minor: 0,
    capabilities: { maxMsgFds: 8, maxDataXferSize: 1 << 20, pgsizes: 4096, maxDmaMaps: 1024, writeMultiple: true },
  });
  assert.equal(session.maxSendFds, 16);
  assert.equal(session.maxRecvFds, 8);
  assert.equal(session.maxSendDataXfer, 1048576);
  assert.equal(session.pgsizes, 4096);
  assert.equal(session.maxDmaMaps, 1024);
  assert.equal(session.writeMultiple, true);
  assert.equal(session.migration, undefined, 'the server offered no migration');
  assert.equal(session.twinSocket, false);
  // The reply encodes and the client side accepts it.
  const wire = encodeVersionReply(1, reply);
  const offer = { major: 0, minor: 0, capabilities: client.capabilities! };
  const clientSession = acceptVersionReply(offer, decodeVersionReply(wire));
  assert.equal(clientSession.maxSendFds, 8);
  assert.equal(clientSession.maxRecvFds, 16);
  assert.equal(clientSession.writeMultiple, true);
});

test('a client proposing nothing gets an empty capabilities object and the defaults', () => {
  const { reply, session } = negotiateVersion({ major: 0, minor: 5 }, server);
  assert.deepEqual(reply, { major: 0, minor: 2, capabilities: {} });
  assert.equal(session.maxSendFds, CAPABILITY_DEFAULTS.maxMsgFds);
  assert.equal(session.maxSendDataXfer, CAPABILITY_DEFAULTS.maxDataXferSize);
  assert.equal(session.writeMultiple, false);
  assert.equal(session.pgsizes, 4096);
});

test('migration is agreed on the smaller page size and bitmap limit', () => {
  const { reply, session } = negotiateVersion(
    { major: 0, minor: 2, capabilities: { migration: { pgsize: 8192, maxBitmapSize: 1 << 28 } } },
    { major: 0, minor: 2, capabilities: { migration: { pgsize: 4096, maxBitmapSize: 1 << 20 } } },
  );
  assert.deepEqual(reply.capabilities?.migration, { pgsize: 4096, maxBitmapSize: 1 << 20 });
  assert.deepEqual(session.migration, { pgsize: 4096, maxBitmapSize: 1 << 20 });
});

test('twin socket: enabled only when the client supports it and the server offers an fd', () => {
  const client = { major: 0, minor: 2, capabilities: { twinSocket: { supported: true } } };
  const on = negotiateVersion(client, server, { twinSocketFdIndex: 0 });
  assert.deepEqual(on.reply.capabilities?.twinSocket, { supported: true, fdIndex: 0 });
  assert.equal(on.session.twinSocket, true);
  const off = negotiateVersion(client, server);
  assert.deepEqual(off.reply.capabilities?.twinSocket, { supported: false });
  const notAsked = negotiateVersion({ major: 0, minor: 2, capabilities: {} }, server, { twinSocketFdIndex: 0 });
  assert.equal(notAsked.reply.capabilities?.twinSocket, undefined);
  assert.equal(notAsked.session.twinSocket, false);

  const offer = { major: 0, minor: 2, capabilities: { twinSocket: { supported: true } } };
  const s = acceptVersionReply(offer, on.reply, 1);
  assert.equal(s.twinSocket, true);
  assert.equal(s.twinSocketFdIndex, 0);
  assert.equal(acceptVersionReply(offer, off.reply, 0).twinSocket, false);
});

test('server negotiation failures: other major, no common page size (ENOTSUP)', () => {
  assertErrno(() => negotiateVersion({ major: 1, minor: 0 }, server), 'ENOTSUP', /major version 1/);
  assertErrno(
    () => negotiateVersion({ major: 0, minor: 0, capabilities: { pgsizes: 1 << 16 } }, server),
    'ENOTSUP',
    /no common DMA page size/,
  );
});

test('client checks of the reply', () => {
  const offer: VersionOffer = { major: 0, minor: 1, capabilities: { maxMsgFds: 4 } };
  assertErrno(() => acceptVersionReply(offer, { major: 1, minor: 0, capabilities: {} }), 'ENOTSUP');
  assertErrno(() => acceptVersionReply(offer, { major: 0, minor: 2, capabilities: {} }), 'EINVAL', /above the proposed 1/);
  assertErrno(() => acceptVersionReply(offer, { major: 0, minor: 1, capabilities: {} }, 1), 'EINVAL', /without twin-socket/);
  assertErrno(
    () => acceptVersionReply(offer, { major: 0, minor: 1, capabilities: { twinSocket: { supported: true, fdIndex: 0 } } }, 1),
    'EINVAL',
    /did not propose/,
  );
  const twin: VersionOffer = { major: 0, minor: 1, capabilities: { twinSocket: { supported: true } } };
  assertErrno(
    () => acceptVersionReply(twin, { major: 0, minor: 1, capabilities: { twinSocket: { supported: true } } }, 1),
    'EINVAL',
    /fd_index undefined/,
  );
  assertErrno(
    () => acceptVersionReply(twin, { major: 0, minor: 1, capabilities: { twinSocket: { supported: true, fdIndex: 1 } } }, 1),
    'EINVAL',
    /fd_index 1/,
  );
  assertErrno(
    () =>
      acceptVersionReply({ major: 0, minor: 1, capabilities: { pgsizes: 4096 } }, { major: 0, minor: 1, capabilities: { pgsizes: 8192 } }),
    'ENOTSUP',
  );
});

test('client tolerates capabilities it did not propose (libvfio-user always sends some)', () => {
  const offer: VersionOffer = { major: 0, minor: 2, capabilities: {} };
  const s = acceptVersionReply(offer, {
    major: 0,
    minor: 1,
    capabilities: { maxMsgFds: 8, maxDataXferSize: 1 << 20, migration: { pgsize: 4096 } },
  });
  assert.equal(s.minor, 1);
  assert.equal(s.maxSendFds, 8);
  assert.equal(s.migration, undefined);
});
