// The client's side of DMA by messages: the server reads and writes memory
// it could not map (a DMA_MAP without fd, or memory the client keeps in its
// own heap) with DMA_READ / DMA_WRITE requests, served here from the DMA
// memory this client registered.

import { fail } from '../../errors.js';
import {
  Command,
  commandName,
  decodeDmaReadRequest,
  decodeDmaWriteRequest,
  encodeDmaReadReplyInto,
  encodeDmaWriteReplyInto,
  encodeErrorReplyInto,
  errnoForError,
  headerCommand,
  headerMsgId,
  maxMessageSizeFor,
} from '../../protocol/index.js';
import type { DmaAccess } from '../../uapi/types.js';
import { hex } from '../../util/format.js';

/** One DMA mapping as this client registered it. */
interface ClientDmaMap {
  iova: bigint;
  end: bigint; // exclusive
  bytes: Uint8Array;
  access: DmaAccess;
}

export class DmaServer {
  readonly #maps: ClientDmaMap[] = [];
  readonly #maxDataXferSize: number;
  #out: Buffer | undefined;

  /** `maxDataXferSize`: the most data we told the server one message may carry. */
  constructor(maxDataXferSize: number) {
    this.#maxDataXferSize = maxDataXferSize;
  }

  /** Serves [iova, iova + size) from `bytes`, as `access` allows. */
  add(iova: bigint, size: number, bytes: Uint8Array, access: DmaAccess): void {
    this.#maps.push({ iova, end: iova + BigInt(size), bytes, access });
  }

  remove(iova: bigint): void {
    const i = this.#maps.findIndex((m) => m.iova === iova);
    if (i >= 0) this.#maps.splice(i, 1);
  }

  clear(): void {
    this.#maps.length = 0;
  }

  /**
   * Serves one request of the server; returns the reply (a view of a reused
   * buffer): the data read, the write acknowledged, or an error reply with the
   * errno of what went wrong.
   */
  serve(message: Uint8Array): Uint8Array {
    this.#out ??= Buffer.alloc(maxMessageSizeFor(this.#maxDataXferSize));
    const out = this.#out;
    const id = headerMsgId(message);
    const command = headerCommand(message);
    const limits = { maxDataXferSize: this.#maxDataXferSize };
    let len: number;
    try {
      if (command === Command.DMA_READ) {
        const r = decodeDmaReadRequest(message, [], limits);
        len = encodeDmaReadReplyInto(out, id, r.address, r.count, this.#slice(r.address, r.count, 'read'));
      } else if (command === Command.DMA_WRITE) {
        const r = decodeDmaWriteRequest(message, [], limits);
        this.#slice(r.address, r.data.length, 'write').set(r.data);
        len = encodeDmaWriteReplyInto(out, id, r.address, r.data.length);
      } else {
        throw fail('ENOSYS', `the server sent ${commandName(command)}, which a client does not serve`);
      }
    } catch (err) {
      len = encodeErrorReplyInto(out, id, command, errnoForError(err));
    }
    return out.subarray(0, len);
  }

  /** The client memory behind [iova, iova + count), checked against the map's access. */
  #slice(iova: bigint, count: number, op: 'read' | 'write'): Uint8Array {
    const end = iova + BigInt(count);
    for (const m of this.#maps) {
      if (iova >= m.iova && end <= m.end) {
        // The device reads our memory on DMA_READ, so the map must allow device reads.
        if (op === 'read' ? !m.access.read : !m.access.write)
          throw fail('EPERM', `DMA ${op} at ${hex(iova)}: not permitted by the mapping`);
        const off = Number(iova - m.iova);
        return m.bytes.subarray(off, off + count);
      }
    }
    throw fail('EFAULT', `DMA ${op} of ${count} bytes at ${hex(iova)}: not inside one DMA mapping`);
  }
}
