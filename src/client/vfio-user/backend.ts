// The vfio-user backend of the Driver API: a device served over a UNIX socket.
//
// Requests are synchronous: a region read is one message out and one reply
// back, blocking the thread like an MMIO load (on one CPU a round trip costs a
// few microseconds). Every request goes through #roundTrip, which sends, then
// receives into one reusable buffer until the reply with the request's message
// id is whole. While it waits, the server may send requests of its own
// (DMA_READ / DMA_WRITE against memory mapped without an fd): they are served
// in place, from the DMA memory this client registered, and the wait goes on.
// Between requests the socket is watched on the event loop, so server requests
// and the server going away are noticed while the driver is idle.
//
// The hot paths (REGION_READ / REGION_WRITE up to the negotiated transfer
// size) encode into a preallocated send buffer and check the reply in place:
// they allocate nothing.

import { ErrnoError, fail } from '../../errors.js';
import {
  Command,
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  FLAG_ERROR,
  HEADER_SIZE,
  MessageType,
  PeerError,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  REGION_RW_DATA_OFFSET,
  acceptVersionReply,
  checkRegionReadReply,
  checkRegionWriteReply,
  decodeDeviceGetInfoReply,
  decodeDmaReadRequest,
  decodeDmaWriteRequest,
  decodeIrqInfoReply,
  decodeRegionInfoReply,
  decodeVersionReply,
  encodeDeviceGetInfoRequest,
  encodeDeviceResetRequest,
  encodeDmaMapRequest,
  encodeDmaReadReplyInto,
  encodeDmaUnmapRequest,
  encodeDmaWriteReplyInto,
  encodeErrorReplyInto,
  encodeIrqInfoRequest,
  encodeRegionInfoRequest,
  encodeRegionReadRequestInto,
  encodeRegionWriteRequestInto,
  encodeSetIrqsRequest,
  encodeVersionRequest,
  maxMessageSizeFor,
  type VersionOffer,
  type VersionSession,
} from '../../protocol/index.js';
import { readU16, readU32 } from '../../protocol/wire.js';
import { closeFd } from '../../sys/fd.js';
import { Mapping, PROT_READ, PROT_WRITE } from '../../sys/memory.js';
import { UnixConnection } from '../../sys/unix-socket.js';
import { deviceFlags, irqInfoFlags, regionFlags } from '../../uapi/vfio.js';
import type { BackendEvents, DeviceBackend, DmaMemory, MappedSpan } from '../backend.js';
import { Device, type DeviceOptions } from '../device.js';
import type { DeviceInfo, DmaAccess, IovaRange, IrqAction, IrqData, IrqInfo, RegionInfo } from '../../uapi/types.js';

export interface VfioUserOptions {
  /** Longest wait for a reply, in ms (default 10 000; -1 waits forever). */
  timeoutMs?: number;
  /** Largest data transfer we accept in one message (default 1 MiB). */
  maxDataXferSize?: number;
  /**
   * Send the memory's fd with DMA_MAP (default true). Without it the server
   * reaches our memory only through DMA_READ / DMA_WRITE messages.
   */
  dmaFds?: boolean;
}

/** One DMA mapping as this client registered it, to serve DMA_READ/DMA_WRITE. */
interface ClientDmaMap {
  iova: bigint;
  end: bigint; // exclusive
  bytes: Uint8Array;
  access: DmaAccess;
}

/** A region's info plus the fd the server gave for mapping it. */
interface RegionEntry {
  info: RegionInfo;
  fd: number | undefined;
  /** File offset to mmap the region's first byte at. */
  mmapOffset: bigint;
}

const MAX_FDS = 8;

export class VfioUserBackend implements DeviceBackend {
  readonly kind = 'vfio-user';
  readonly name: string;
  readonly session: VersionSession;
  readonly #conn: UnixConnection;
  readonly #timeoutMs: number;
  readonly #dmaFds: boolean;
  #tx: Buffer;
  #rx: Buffer;
  #rxStart = 0;
  #rxEnd = 0;
  readonly #fdArr = new Int32Array(MAX_FDS);
  #rxFds: number[] = [];
  #serveTx: Buffer | undefined;
  #msgId = 0;
  #inRequest = false;
  #closed = false;
  #events: BackendEvents = {};
  #info: DeviceInfo | undefined;
  readonly #regions = new Map<number, RegionEntry>();
  readonly #irqs = new Map<number, IrqInfo>();
  readonly #dmaMaps: ClientDmaMap[] = [];

  private constructor(path: string, conn: UnixConnection, options: VfioUserOptions) {
    this.name = path;
    this.#conn = conn;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#dmaFds = options.dmaFds ?? true;
    const ourXfer = options.maxDataXferSize ?? 1024 * 1024;
    // Big enough for the handshake; resized once limits are agreed.
    this.#tx = Buffer.alloc(8192);
    this.#rx = Buffer.alloc(maxMessageSizeFor(ourXfer));
    const offer: VersionOffer = {
      major: PROTOCOL_MAJOR,
      minor: PROTOCOL_MINOR,
      capabilities: { maxMsgFds: MAX_FDS, maxDataXferSize: ourXfer, pgsizes: 4096, maxDmaMaps: 65535 },
    };
    try {
      const req = encodeVersionRequest(this.#nextId(), offer);
      const at = this.#roundTrip(req, req.length, null, Command.VERSION);
      const fds = this.#takeFds();
      const reply = decodeVersionReply(this.#message(at));
      try {
        this.session = acceptVersionReply(offer, reply, fds.length);
      } finally {
        for (const fd of fds) closeFd(fd);
      }
    } catch (err) {
      conn.close();
      throw err;
    }
    this.#tx = Buffer.alloc(maxMessageSizeFor(this.session.maxSendDataXfer));
    // Idle-time watch: server requests and the server going away.
    conn.on('end', () => this.#gone(fail('ECONNRESET', `vfio-user server ${path} closed the connection`)));
    conn.on('error', (err) => this.#gone(err));
    conn.receive((data, length, fds, fdCount) => this.#onIdleData(data, length, fds, fdCount));
    conn.unref();
  }

  /** Connects to a vfio-user server and negotiates the protocol version. */
  static connect(path: string, options: VfioUserOptions = {}): VfioUserBackend {
    let conn: UnixConnection;
    try {
      conn = UnixConnection.connect(path, { maxFds: MAX_FDS });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'EIO';
      const hint =
        code === 'ENOENT' ? 'no such socket: is the server running?'
        : code === 'ECONNREFUSED' ? 'nothing is listening on it: the server may have exited'
        : code === 'EACCES' ? 'permission denied: the socket file mode or owner excludes you'
        : code === 'ENOTSOCK' ? 'that path is not a socket'
        : (err as Error).message;
      throw errnoError(code, `cannot connect to vfio-user socket ${path}: ${hint}`, err);
    }
    return new VfioUserBackend(path, conn, options);
  }

  setEvents(events: BackendEvents): void {
    this.#events = events;
  }

  // ------------------------------------------------------------ information

  deviceInfo(): DeviceInfo {
    if (this.#info) return this.#info;
    const req = encodeDeviceGetInfoRequest(this.#nextId());
    const r = decodeDeviceGetInfoReply(this.#message(this.#roundTrip(req, req.length, null, Command.DEVICE_GET_INFO)));
    this.#info = {
      flags: r.flags,
      reset: (r.flags & deviceFlags.RESET) !== 0,
      pci: (r.flags & deviceFlags.PCI) !== 0,
      numRegions: r.numRegions,
      numIrqs: r.numIrqs,
    };
    return this.#info;
  }

  regionInfo(index: number): RegionInfo {
    return this.#region(index).info;
  }

  irqInfo(index: number): IrqInfo {
    let info = this.#irqs.get(index);
    if (info) return info;
    const req = encodeIrqInfoRequest(this.#nextId(), index);
    const r = decodeIrqInfoReply(this.#message(this.#roundTrip(req, req.length, null, Command.DEVICE_GET_IRQ_INFO)), { index });
    info = {
      index,
      flags: r.flags,
      count: r.count,
      eventfd: (r.flags & irqInfoFlags.EVENTFD) !== 0,
      maskable: (r.flags & irqInfoFlags.MASKABLE) !== 0,
      automasked: (r.flags & irqInfoFlags.AUTOMASKED) !== 0,
      noresize: (r.flags & irqInfoFlags.NORESIZE) !== 0,
    };
    this.#irqs.set(index, info);
    return info;
  }

  #region(index: number): RegionEntry {
    let e = this.#regions.get(index);
    if (e) return e;
    let argsz = 32;
    for (let attempt = 0; attempt < 3; attempt++) {
      const req = encodeRegionInfoRequest(this.#nextId(), index, argsz);
      const at = this.#roundTrip(req, req.length, null, Command.DEVICE_GET_REGION_INFO);
      const fds = this.#takeFds();
      let r;
      try {
        r = decodeRegionInfoReply(this.#message(at), fds, { index });
      } catch (err) {
        for (const fd of fds) closeFd(fd);
        throw err;
      }
      if (r.truncated) {
        if (r.fd !== undefined) closeFd(r.fd);
        argsz = r.argsz;
        continue;
      }
      const mappable = (r.flags & regionFlags.MMAP) !== 0 && r.fd !== undefined;
      const sparse = r.caps.find((c) => c.kind === 'sparse-mmap');
      const type = r.caps.find((c) => c.kind === 'type');
      const size = Number(r.size);
      const info: RegionInfo = {
        index,
        flags: r.flags,
        size,
        readable: (r.flags & regionFlags.READ) !== 0,
        writable: (r.flags & regionFlags.WRITE) !== 0,
        mappable,
        mmapAreas: !mappable
          ? []
          : sparse && sparse.kind === 'sparse-mmap'
            ? sparse.areas.map((a) => ({ offset: Number(a.offset), size: Number(a.size) }))
            : [{ offset: 0, size }],
        msixMappable: r.caps.some((c) => c.kind === 'msix-mappable'),
      };
      if (type && type.kind === 'type') info.type = { type: type.type, subtype: type.subtype };
      e = { info, fd: r.fd, mmapOffset: r.offset };
      this.#regions.set(index, e);
      return e;
    }
    throw fail('EPROTO', `region ${index}: the server keeps changing the size of its region info`);
  }

  // ---------------------------------------------------------- region access

  regionRead(index: number, offset: number, dst: Uint8Array): void {
    const max = this.session.maxSendDataXfer;
    for (let done = 0; done < dst.length; ) {
      const count = Math.min(dst.length - done, max, this.session.maxRecvDataXfer);
      const id = this.#nextId();
      const len = encodeRegionReadRequestInto(this.#tx, id, index, offset + done, count);
      const at = this.#roundTrip(this.#tx, len, null, Command.REGION_READ);
      const size = readU32(this.#rx, at + 4);
      const m = at === 0 ? this.#rx : this.#rx.subarray(at);
      const n = checkRegionReadReply(m, id, index, offset + done, count, size);
      if (n !== count) throw fail('EIO', `REGION_READ of region ${index} returned ${n} of ${count} bytes`);
      const from = at + REGION_RW_DATA_OFFSET;
      if (n <= 16) {
        for (let i = 0; i < n; i++) dst[done + i] = this.#rx[from + i]!;
      } else {
        dst.set(this.#rx.subarray(from, from + n), done);
      }
      done += n;
    }
  }

  regionWrite(index: number, offset: number, src: Uint8Array): void {
    const max = this.session.maxSendDataXfer;
    for (let done = 0; done < src.length; ) {
      const count = Math.min(src.length - done, max);
      const id = this.#nextId();
      const len = encodeRegionWriteRequestInto(this.#tx, id, index, offset + done, count, done === 0 && count === src.length ? src : src.subarray(done, done + count));
      const at = this.#roundTrip(this.#tx, len, null, Command.REGION_WRITE);
      const size = readU32(this.#rx, at + 4);
      const m = at === 0 ? this.#rx : this.#rx.subarray(at);
      const n = checkRegionWriteReply(m, id, index, offset + done, count, size);
      if (n !== count) throw fail('EIO', `REGION_WRITE of region ${index} took ${n} of ${count} bytes`);
      done += n;
    }
  }

  regionMap(index: number, offset: number, size: number, writable: boolean): MappedSpan {
    const e = this.#region(index);
    if (!e.info.mappable || e.fd === undefined) throw fail('EINVAL', `region ${index} is not mappable`);
    if (!e.info.mmapAreas.some((a) => offset >= a.offset && offset + size <= a.offset + a.size)) {
      throw fail('EINVAL', `region ${index}: [${offset}, ${offset + size}) is not inside one of its mmap areas`);
    }
    const prot = PROT_READ | (writable ? PROT_WRITE : 0);
    const mapping = Mapping.map(e.fd, e.mmapOffset + BigInt(offset), size, prot);
    return { buffer: mapping.buffer, unmap: () => void mapping.unmap() };
  }

  // -------------------------------------------------------------------- DMA

  dmaInfo(): { ranges: IovaRange[]; pageSizes: bigint; maxMappings?: number } {
    return { ranges: [], pageSizes: BigInt(this.session.pgsizes), maxMappings: this.session.maxDmaMaps };
  }

  dmaMap(memory: DmaMemory, iova: bigint, access: DmaAccess): void {
    const flags = (access.read ? DMA_MAP_FLAG_READ : 0) | (access.write ? DMA_MAP_FLAG_WRITE : 0);
    const useFd = this.#dmaFds;
    const req = encodeDmaMapRequest(this.#nextId(), {
      flags,
      offset: useFd ? memory.fdOffset : 0,
      address: iova,
      size: memory.size,
    });
    this.#roundTrip(req, req.length, useFd ? [memory.fd] : null, Command.DMA_MAP);
    if (memory.bytes) {
      this.#dmaMaps.push({ iova, end: iova + BigInt(memory.size), bytes: memory.bytes, access });
    }
  }

  dmaUnmap(iova: bigint, size: number): void {
    const req = encodeDmaUnmapRequest(this.#nextId(), { address: iova, size });
    this.#roundTrip(req, req.length, null, Command.DMA_UNMAP);
    const i = this.#dmaMaps.findIndex((m) => m.iova === iova);
    if (i >= 0) this.#dmaMaps.splice(i, 1);
  }

  // ------------------------------------------------------------- interrupts

  setIrqs(index: number, action: IrqAction, start: number, data: IrqData): void {
    let req: Buffer;
    let fds: readonly number[] | null = null;
    if (data.kind === 'none') {
      req = encodeSetIrqsRequest(this.#nextId(), { data: 'none', action, index, start, count: data.count });
    } else if (data.kind === 'bool') {
      const bools = Uint8Array.from(data.values, (v) => (v ? 1 : 0));
      req = encodeSetIrqsRequest(this.#nextId(), { data: 'bool', action, index, start, count: bools.length, bools });
    } else {
      const max = this.session.maxSendFds;
      if (data.fds.length > max && max > 0 && action === 'trigger') {
        // More eventfds than one message may carry: consecutive ranges of at
        // most max_msg_fds, as QEMU sends them (the first enables the mode,
        // the others bind the rest); undone if a later one is refused.
        for (let i = 0; i < data.fds.length; i += max) {
          try {
            this.setIrqs(index, action, start + i, { kind: 'eventfd', fds: data.fds.slice(i, i + max) });
          } catch (err) {
            if (i > 0) {
              try {
                this.setIrqs(index, 'trigger', 0, { kind: 'none', count: 0 });
              } catch {
                // the refusal below is what matters
              }
            }
            throw err;
          }
        }
        return;
      }
      if (data.fds.length > max) {
        throw fail('EINVAL', `${data.fds.length} eventfds in one SET_IRQS, the server takes at most ${max}`);
      }
      fds = data.fds;
      req = encodeSetIrqsRequest(this.#nextId(), { data: 'eventfd', action, index, start, count: data.fds.length }, data.fds.length);
    }
    this.#roundTrip(req, req.length, fds, Command.DEVICE_SET_IRQS);
  }

  reset(): void {
    const req = encodeDeviceResetRequest(this.#nextId());
    this.#roundTrip(req, req.length, null, Command.DEVICE_RESET);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    this.#release();
  }

  // ---------------------------------------------------------------- plumbing

  #nextId(): number {
    this.#msgId = (this.#msgId + 1) & 0xffff;
    return this.#msgId;
  }

  /** A view of the whole message starting at `at` in the receive buffer. */
  #message(at: number): Uint8Array {
    return this.#rx.subarray(at, at + readU32(this.#rx, at + 4));
  }

  #takeFds(): number[] {
    const fds = this.#rxFds;
    this.#rxFds = [];
    return fds;
  }

  /**
   * Sends request[0, length) with fds and waits for its reply, serving server
   * requests meanwhile. Returns where the reply starts in #rx (valid until the
   * next round trip). An error reply throws PeerError; the server going away
   * or a time-out closes the backend and throws.
   */
  #roundTrip(request: Uint8Array, length: number, fds: readonly number[] | null, command: number): number {
    if (this.#closed) throw fail('ENOTCONN', `vfio-user connection to ${this.name} is closed`);
    if (this.#inRequest) throw fail('EBUSY', 'a vfio-user request is already in progress (re-entered from a DMA handler?)');
    this.#inRequest = true;
    const msgId = readU16(request, 0);
    const deadline = this.#timeoutMs < 0 ? -1 : performance.now() + this.#timeoutMs;
    try {
      let first = true;
      for (;;) {
        const at = this.#nextMessage(msgId);
        if (at >= 0) {
          const flags = readU32(this.#rx, at + 8);
          if (readU16(this.#rx, at + 2) !== command) {
            throw this.#broken(`reply to message ${msgId} is for command ${readU16(this.#rx, at + 2)}, not ${command}`);
          }
          // Server requests that came in behind the reply are served from
          // the event loop, not left waiting for the driver's next request.
          if (this.#rxEnd > this.#rxStart) this.#scheduleDrain();
          if (flags & FLAG_ERROR) {
            for (const fd of this.#takeFds()) closeFd(fd);
            throw new PeerError(command, readU32(this.#rx, at + 12));
          }
          return at;
        }
        const left = deadline < 0 ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
        if (deadline >= 0 && left === 0 && !first) throw this.#broken(`no reply to ${commandLabel(command)} within ${this.#timeoutMs} ms`, 'ETIMEDOUT');
        this.#compact();
        let n: number;
        try {
          if (first) {
            n =
              this.#rxEnd === 0
                ? this.#conn.transact(request, length, fds, this.#rx, this.#fdArr, left)
                : (this.#conn.sendSync(request.subarray(0, length), fds, left),
                  this.#conn.receiveSync(this.#rx, this.#rxEnd, this.#rx.length - this.#rxEnd, this.#fdArr, left));
            if (this.#rxEnd === 0) this.#rxStart = 0;
          } else {
            n = this.#conn.receiveSync(this.#rx, this.#rxEnd, this.#rx.length - this.#rxEnd, this.#fdArr, left);
          }
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ETIMEDOUT') throw this.#broken(`no reply to ${commandLabel(command)} within ${this.#timeoutMs} ms`, 'ETIMEDOUT');
          throw this.#broken(`vfio-user connection to ${this.name} failed: ${(err as Error).message}`, code ?? 'EIO');
        }
        first = false;
        const nfds = this.#conn.receivedFds;
        for (let i = 0; i < nfds; i++) this.#rxFds.push(this.#fdArr[i]!);
        if (n === 0) throw this.#broken(`vfio-user server ${this.name} closed the connection`, 'ECONNRESET');
        this.#rxEnd += n;
      }
    } finally {
      this.#inRequest = false;
    }
  }

  /**
   * Consumes whole messages from #rx: serves server requests, and returns the
   * start of the reply with `msgId` when it is whole (-1 if it isn't yet).
   */
  #nextMessage(msgId: number): number {
    const rx = this.#rx;
    while (this.#rxEnd - this.#rxStart >= HEADER_SIZE) {
      const at = this.#rxStart;
      const size = readU32(rx, at + 4);
      if (size < HEADER_SIZE || size > rx.length) throw this.#broken(`message of ${size} bytes from the server`);
      if (this.#rxEnd - at < size) return -1;
      this.#rxStart = at + size;
      const type = readU32(rx, at + 8) & 0x0f;
      if (type === MessageType.REPLY) {
        if (readU16(rx, at) === msgId) return at;
        // A reply to nothing we wait for: a late reply after a time-out is
        // impossible (we close), so the server is confused.
        throw this.#broken(`reply to message ${readU16(rx, at)} while waiting for ${msgId}`);
      }
      this.#serve(at, size);
    }
    return -1;
  }

  /** Moves the unread bytes to the front of #rx when the tail is short. */
  #compact(): void {
    if (this.#rxStart === this.#rxEnd) {
      this.#rxStart = this.#rxEnd = 0;
    } else if (this.#rxStart > 0 && this.#rx.length - this.#rxEnd < HEADER_SIZE + 64) {
      this.#rx.copyWithin(0, this.#rxStart, this.#rxEnd);
      this.#rxEnd -= this.#rxStart;
      this.#rxStart = 0;
    }
  }

  /** Serves a request from the server (DMA_READ / DMA_WRITE). */
  #serve(at: number, size: number): void {
    const rx = this.#rx;
    const id = readU16(rx, at);
    const command = readU16(rx, at + 2);
    const message = rx.subarray(at, at + size);
    const out = (this.#serveTx ??= Buffer.alloc(maxMessageSizeFor(this.session?.maxRecvDataXfer ?? 1 << 20)));
    let len: number;
    try {
      if (command === Command.DMA_READ) {
        const r = decodeDmaReadRequest(message, [], { maxDataXferSize: this.session.maxRecvDataXfer });
        const src = this.#dmaSlice(r.address, r.count, 'read');
        len = encodeDmaReadReplyInto(out, id, r.address, r.count, src);
      } else if (command === Command.DMA_WRITE) {
        const r = decodeDmaWriteRequest(message, [], { maxDataXferSize: this.session.maxRecvDataXfer });
        this.#dmaSlice(r.address, r.data.length, 'write').set(r.data);
        len = encodeDmaWriteReplyInto(out, id, r.address, r.data.length);
      } else {
        throw fail('ENOSYS', `the server sent command ${command}, which a client does not serve`);
      }
    } catch (err) {
      const errno = err instanceof ErrnoError && err.errno !== undefined ? err.errno : 22;
      len = encodeErrorReplyInto(out, id, command, errno);
    }
    if ((readU32(rx, at + 8) & 0x10) !== 0) return; // no reply wanted
    this.#conn.sendSync(out.subarray(0, len), null, this.#timeoutMs);
  }

  /** The client memory behind [iova, iova + count), checked against the map's access. */
  #dmaSlice(iova: bigint, count: number, op: 'read' | 'write'): Uint8Array {
    const end = iova + BigInt(count);
    for (const m of this.#dmaMaps) {
      if (iova >= m.iova && end <= m.end) {
        // The device reads our memory on DMA_READ, so the map must allow device reads.
        if (op === 'read' ? !m.access.read : !m.access.write) throw fail('EPERM', `DMA ${op} at 0x${iova.toString(16)}: not permitted by the mapping`);
        const off = Number(iova - m.iova);
        return m.bytes.subarray(off, off + count);
      }
    }
    throw fail('EFAULT', `DMA ${op} of ${count} bytes at 0x${iova.toString(16)}: not inside one DMA mapping`);
  }

  #drainScheduled = false;

  /** Serves, on the next turn of the event loop, whole messages left in #rx. */
  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      if (this.#closed || this.#inRequest) return;
      try {
        if (this.#nextMessage(-1) >= 0) throw fail('EPROTO', 'unexpected reply while idle');
        this.#compact();
      } catch (err) {
        this.#gone(err as Error);
      }
    });
  }

  /** Data that arrived while idle (on the event loop). */
  #onIdleData(data: Uint8Array, length: number, fds: Int32Array, fdCount: number): void {
    if (this.#closed) return;
    for (let i = 0; i < fdCount; i++) closeFd(fds[i]!); // nothing the server sends unasked carries fds
    if (this.#rxEnd + length > this.#rx.length) this.#compact();
    if (this.#rxEnd + length > this.#rx.length) {
      this.#gone(fail('EPROTO', 'the server sent more unasked data than a message can hold'));
      return;
    }
    this.#rx.set(data.subarray(0, length), this.#rxEnd);
    this.#rxEnd += length;
    try {
      if (this.#nextMessage(-1) >= 0) throw fail('EPROTO', 'unexpected reply while idle');
      this.#compact();
    } catch (err) {
      this.#gone(err as Error);
    }
  }

  #broken(message: string, code = 'EPROTO'): Error {
    const err = errnoError(code, message);
    this.#gone(err);
    return err;
  }

  #gone(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    this.#release();
    this.#events.onClose?.(err);
  }

  #release(): void {
    for (const e of this.#regions.values()) if (e.fd !== undefined) closeFd(e.fd);
    this.#regions.clear();
    for (const fd of this.#takeFds()) closeFd(fd);
    this.#dmaMaps.length = 0;
  }
}

/** An ErrnoError for `code`, or EIO when `code` is not an errno name. */
function errnoError(code: string, message: string, cause?: unknown): ErrnoError {
  try {
    return new ErrnoError(code, message, { cause });
  } catch {
    return new ErrnoError('EIO', message, { cause });
  }
}

function commandLabel(command: number): string {
  for (const [name, n] of Object.entries(Command)) if (n === command) return name;
  return `command ${command}`;
}

/** Opens a device served over vfio-user at `path`: the Driver API over a socket. */
export function connectVfioUser(path: string, options: VfioUserOptions & DeviceOptions = {}): Device {
  const backend = VfioUserBackend.connect(path, options);
  try {
    return new Device(backend, options);
  } catch (err) {
    backend.close();
    throw err;
  }
}

