// The vfio-user backend of the Driver API: a device served over a UNIX socket.
//
// Every call is one or more synchronous requests over the channel
// (channel.ts), after the VERSION handshake (handshake.ts); the server's own
// requests for client memory are served by dma-server.ts. Region info and
// interrupt info are asked once and kept.
//
// The hot paths (REGION_READ / REGION_WRITE up to the negotiated transfer
// size) encode into the channel's preallocated send buffer and check the reply
// in place: they allocate nothing.

import { fail } from '../../errors.js';
import {
  Command,
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  REGION_RW_DATA_OFFSET,
  checkRegionReadReply,
  checkRegionWriteReply,
  decodeDeviceGetInfoReply,
  decodeIrqInfoReply,
  decodeRegionInfoReply,
  encodeDeviceGetInfoRequest,
  encodeDeviceResetRequest,
  encodeDmaMapRequest,
  encodeDmaUnmapRequest,
  encodeIrqInfoRequest,
  encodeRegionInfoRequest,
  encodeRegionReadRequestInto,
  encodeRegionWriteRequestInto,
  encodeSetIrqsRequest,
  headerSize,
  maxMessageSizeFor,
  type VersionSession,
} from '../../protocol/index.js';
import { closeFd } from '../../sys/fd.js';
import { Mapping, PROT_READ, PROT_WRITE } from '../../sys/memory.js';
import { deviceFlags, irqInfoFlags, regionFlags } from '../../uapi/vfio.js';
import type { BackendEvents, DeviceBackend, DmaMemory, MappedSpan } from '../backend.js';
import { Device, type DeviceOptions } from '../device.js';
import type { DeviceInfo, DmaAccess, IovaRange, IrqAction, IrqData, IrqInfo, RegionInfo } from '../../uapi/types.js';
import { SyncChannel } from './channel.js';
import { DmaServer } from './dma-server.js';
import { MAX_FDS, handshake } from './handshake.js';

/** Options of `connectVfioUser`: the reply timeout, the message size limit, and whether DMA memory is shared by fd. */
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

/** A region's info plus the fd the server gave for mapping it. */
interface RegionEntry {
  info: RegionInfo;
  fd: number | undefined;
  /** File offset to mmap the region's first byte at. */
  mmapOffset: bigint;
}

/** The vfio-user backend: a device served on a Unix socket, spoken to synchronously. Usually reached through `connectVfioUser`. */
export class VfioUserBackend implements DeviceBackend {
  readonly kind = 'vfio-user';
  readonly name: string;
  readonly session: VersionSession;
  readonly #ch: SyncChannel;
  readonly #dmaFds: boolean;
  readonly #dma: DmaServer;
  #closed = false;
  #events: BackendEvents = {};
  #info: DeviceInfo | undefined;
  readonly #regions = new Map<number, RegionEntry>();
  readonly #irqs = new Map<number, IrqInfo>();

  private constructor(channel: SyncChannel, options: VfioUserOptions, ourXfer: number) {
    this.name = channel.name;
    this.#ch = channel;
    this.#dmaFds = options.dmaFds ?? true;
    this.#dma = new DmaServer(ourXfer);
    try {
      this.session = handshake(channel, ourXfer);
    } catch (err) {
      channel.close();
      throw err;
    }
    channel.resizeSend(maxMessageSizeFor(this.session.maxSendDataXfer));
    channel.start(
      (message) => this.#dma.serve(message),
      (err) => this.#gone(err),
    );
  }

  /** Connects to a vfio-user server and negotiates the protocol version. */
  static connect(path: string, options: VfioUserOptions = {}): VfioUserBackend {
    const ourXfer = options.maxDataXferSize ?? 1024 * 1024;
    const channel = SyncChannel.connect(path, {
      timeoutMs: options.timeoutMs ?? 10_000,
      maxMessageSize: maxMessageSizeFor(ourXfer),
      maxFds: MAX_FDS,
      sendBufferSize: 8192, // the handshake's; resized once limits are agreed
    });
    return new VfioUserBackend(channel, options, ourXfer);
  }

  setEvents(events: BackendEvents): void {
    this.#events = events;
  }

  // ------------------------------------------------------------ information

  deviceInfo(): DeviceInfo {
    if (this.#info) return this.#info;
    const req = encodeDeviceGetInfoRequest(this.#ch.nextId());
    const r = decodeDeviceGetInfoReply(this.#ch.message(this.#ch.roundTrip(req, req.length, null, Command.DEVICE_GET_INFO)));
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
    const req = encodeIrqInfoRequest(this.#ch.nextId(), index);
    const r = decodeIrqInfoReply(this.#ch.message(this.#ch.roundTrip(req, req.length, null, Command.DEVICE_GET_IRQ_INFO)), { index });
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
      const req = encodeRegionInfoRequest(this.#ch.nextId(), index, argsz);
      const at = this.#ch.roundTrip(req, req.length, null, Command.DEVICE_GET_REGION_INFO);
      const fds = this.#ch.takeFds();
      let r;
      try {
        r = decodeRegionInfoReply(this.#ch.message(at), fds, { index });
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
      const id = this.#ch.nextId();
      const tx = this.#ch.tx;
      const len = encodeRegionReadRequestInto(tx, id, index, offset + done, count);
      const at = this.#ch.roundTrip(tx, len, null, Command.REGION_READ);
      const rx = this.#ch.rx;
      const m = at === 0 ? rx : rx.subarray(at);
      const n = checkRegionReadReply(m, id, index, offset + done, count, headerSize(rx, at));
      if (n !== count) throw fail('EIO', `REGION_READ of region ${index} returned ${n} of ${count} bytes`);
      const from = at + REGION_RW_DATA_OFFSET;
      if (n <= 16) {
        for (let i = 0; i < n; i++) dst[done + i] = rx[from + i]!;
      } else {
        dst.set(rx.subarray(from, from + n), done);
      }
      done += n;
    }
  }

  regionWrite(index: number, offset: number, src: Uint8Array): void {
    const max = this.session.maxSendDataXfer;
    for (let done = 0; done < src.length; ) {
      const count = Math.min(src.length - done, max);
      const id = this.#ch.nextId();
      const tx = this.#ch.tx;
      const len = encodeRegionWriteRequestInto(
        tx,
        id,
        index,
        offset + done,
        count,
        done === 0 && count === src.length ? src : src.subarray(done, done + count),
      );
      const at = this.#ch.roundTrip(tx, len, null, Command.REGION_WRITE);
      const rx = this.#ch.rx;
      const m = at === 0 ? rx : rx.subarray(at);
      const n = checkRegionWriteReply(m, id, index, offset + done, count, headerSize(rx, at));
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
    const req = encodeDmaMapRequest(this.#ch.nextId(), {
      flags,
      offset: useFd ? memory.fdOffset : 0,
      address: iova,
      size: memory.size,
    });
    this.#ch.roundTrip(req, req.length, useFd ? [memory.fd] : null, Command.DMA_MAP);
    if (memory.bytes) this.#dma.add(iova, memory.size, memory.bytes, access);
  }

  dmaUnmap(iova: bigint, size: number): void {
    const req = encodeDmaUnmapRequest(this.#ch.nextId(), { address: iova, size });
    this.#ch.roundTrip(req, req.length, null, Command.DMA_UNMAP);
    this.#dma.remove(iova);
  }

  // ------------------------------------------------------------- interrupts

  setIrqs(index: number, action: IrqAction, start: number, data: IrqData): void {
    let req: Buffer;
    let fds: readonly number[] | null = null;
    if (data.kind === 'none') {
      req = encodeSetIrqsRequest(this.#ch.nextId(), { data: 'none', action, index, start, count: data.count });
    } else if (data.kind === 'bool') {
      const bools = Uint8Array.from(data.values, (v) => (v ? 1 : 0));
      req = encodeSetIrqsRequest(this.#ch.nextId(), { data: 'bool', action, index, start, count: bools.length, bools });
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
      req = encodeSetIrqsRequest(this.#ch.nextId(), { data: 'eventfd', action, index, start, count: data.fds.length }, data.fds.length);
    }
    this.#ch.roundTrip(req, req.length, fds, Command.DEVICE_SET_IRQS);
  }

  reset(): void {
    const req = encodeDeviceResetRequest(this.#ch.nextId());
    this.#ch.roundTrip(req, req.length, null, Command.DEVICE_RESET);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ch.close();
    this.#release();
  }

  // ---------------------------------------------------------------- plumbing

  #gone(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#events.onClose?.(err);
  }

  #release(): void {
    for (const e of this.#regions.values()) if (e.fd !== undefined) closeFd(e.fd);
    this.#regions.clear();
    this.#dma.clear();
  }
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
