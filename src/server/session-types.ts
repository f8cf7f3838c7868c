// What a session is configured with and the states it goes through; shared
// by the session and its command handlers.

/** Limits and timeouts a session applies (resolved server options). */
export interface SessionLimits {
  maxDataXferSize: number;
  maxMsgFds: number;
  maxDmaMaps: number;
  maxDmaBytes: bigint;
  pageSize: number;
  writeMultiple: boolean;
  dmaTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Commands waiting behind an asynchronous one before the client is cut off. */
  maxQueuedMessages: number;
  /** Bytes queued for sending before the session stops reading (until the client drains). */
  sendHighWater: number;
  /** How long the session waits for the client's next message after answering (VfioUserServerOptions.lingerUs). */
  lingerUs: number;
  /** Whether plain REGION_READ/WRITE may take the allocation-free fast path (VfioUserServerOptions.fastPath). */
  fastPath: boolean;
}

/** 'handshake' until VERSION succeeds, 'ready' once the client owns the device, 'closed' when the connection is gone. */
export type SessionState = 'handshake' | 'ready' | 'closed';
