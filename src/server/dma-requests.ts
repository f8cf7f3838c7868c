// The server's own requests to the client: DMA_READ and DMA_WRITE for the
// device model's DMA into maps that came without a descriptor. Each request
// gets a free message id and waits (up to dmaTimeoutMs) for the client's
// reply, which the session hands over as soon as it is framed. A transfer
// larger than max_data_xfer_size (the client's and ours) goes as several
// requests.

import {
  Command,
  PeerError,
  REGION_RW_DATA_OFFSET,
  checkDmaReadReply,
  checkDmaWriteReply,
  commandName,
  encodeDmaReadRequest,
  encodeDmaWriteRequest,
  type FramedMessage,
} from '../protocol/index.js';
import { hex } from '../util/format.js';
import { settleAll } from './dma.js';
import type { DmaTransport } from './dma-space.js';
import { DmaError, type ServerWarning } from './errors.js';

/** Most server-to-client requests outstanding at once. */
const MAX_PENDING_REQUESTS = 4096;

interface PendingRequest {
  command: number;
  address: bigint;
  data: Uint8Array;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** What the request table needs from its session. */
export interface DmaRequestHost {
  /** The client owns the device and the connection is open. */
  readonly ready: boolean;
  /** Largest count of one request. */
  readonly chunk: number;
  readonly timeoutMs: number;
  /** The connection number, for messages. */
  readonly id: number;
  send(message: Uint8Array): void;
  warn(w: ServerWarning): void;
}

export class DmaRequests implements DmaTransport {
  readonly #host: DmaRequestHost;
  readonly #pending = new Map<number, PendingRequest>();
  #nextId = 0;

  constructor(host: DmaRequestHost) {
    this.#host = host;
  }

  dmaRead(iova: bigint, dst: Uint8Array): Promise<void> {
    return this.#transfer(Command.DMA_READ, iova, dst);
  }

  dmaWrite(iova: bigint, src: Uint8Array): Promise<void> {
    return this.#transfer(Command.DMA_WRITE, iova, src);
  }

  #transfer(command: number, iova: bigint, data: Uint8Array): Promise<void> {
    const chunk = this.#host.chunk;
    if (data.length <= chunk) return this.#request(command, iova, data);
    const waits: Promise<void>[] = [];
    for (let off = 0; off < data.length; off += chunk) {
      waits.push(this.#request(command, iova + BigInt(off), data.subarray(off, Math.min(data.length, off + chunk))));
    }
    return settleAll(waits);
  }

  #request(command: number, address: bigint, data: Uint8Array): Promise<void> {
    if (!this.#host.ready) {
      return Promise.reject(new DmaError('disconnected', address, data.length, `DMA at ${hex(address)}: the client is gone`));
    }
    if (this.#pending.size >= MAX_PENDING_REQUESTS) {
      return Promise.reject(
        new DmaError(
          'timeout',
          address,
          data.length,
          `DMA at ${hex(address)}: ${MAX_PENDING_REQUESTS} requests are already waiting for the client`,
          { code: 'EAGAIN' },
        ),
      );
    }
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    const message =
      command === Command.DMA_READ ? encodeDmaReadRequest(id, address, data.length) : encodeDmaWriteRequest(id, address, data);
    const timeoutMs = this.#host.timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.get(id)?.timer !== timer) return;
        this.#pending.delete(id);
        reject(
          new DmaError('timeout', address, data.length, `${commandName(command)} at ${hex(address)}: no reply within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { command, address, data, resolve, reject, timer });
      this.#host.send(message);
    });
  }

  /**
   * A reply from the client: settles the request it answers (a malformed one
   * fails it) and returns true, or returns false when it answers no pending
   * request (another command, an unknown or expired id).
   */
  settle(m: FramedMessage): boolean {
    const h = m.header;
    const p = this.#pending.get(h.msgId);
    if (!p || p.command !== h.command) return false;
    this.#pending.delete(h.msgId);
    clearTimeout(p.timer);
    try {
      if (p.command === Command.DMA_READ) {
        checkDmaReadReply(m.message, h.msgId, p.address, p.data.length);
        p.data.set(m.message.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + p.data.length));
      } else {
        checkDmaWriteReply(m.message, h.msgId, p.address, p.data.length);
      }
      p.resolve();
    } catch (err) {
      const what = `${commandName(p.command)} at ${hex(p.address)}`;
      if (err instanceof PeerError) {
        p.reject(
          new DmaError('peer-error', p.address, p.data.length, `${what}: the client answered ${err.code}`, { code: err.code, cause: err }),
        );
      } else {
        this.#host.warn({
          code: 'bad-reply',
          message: `connection ${this.#host.id}: malformed ${commandName(h.command)} reply`,
          client: this.#host.id,
          cause: err,
        });
        p.reject(
          new DmaError('bad-reply', p.address, p.data.length, `${what}: malformed reply (${(err as Error).message})`, { cause: err }),
        );
      }
    }
    return true;
  }

  /** Fails every request still waiting (the client went away). */
  failAll(): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(
        new DmaError('disconnected', p.address, p.data.length, `${commandName(p.command)} at ${hex(p.address)}: the client went away`),
      );
    }
  }
}
