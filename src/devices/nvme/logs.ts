// Log pages (NVMe 1.4, 5.14.1): Error Information (01h), SMART / Health
// Information (02h), Firmware Slot Information (03h), and the counters behind
// them.

export interface ErrorEntry {
  count: number;
  sqid: number;
  cid: number;
  status: number;
  nsid: number;
  lba: number;
}

/** The Error Information entries kept (the newest `capacity`), and how many errors there were. */
export class ErrorLog {
  readonly capacity: number;
  entries: ErrorEntry[] = [];
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Logs a command that completed with status `status`. */
  record(sqid: number, cid: number, status: number, nsid: number): void {
    this.count++;
    this.entries.push({ count: this.count, sqid, cid, status, nsid, lba: 0 });
    if (this.entries.length > this.capacity) this.entries.shift();
  }
}

/** Controller-wide counters for the SMART / Health log. */
export class HealthCounters {
  /** Bytes read and written by host commands. */
  bytesRead = 0;
  bytesWritten = 0;
  readCommands = 0;
  writeCommands = 0;
  powerCycles = 1;
  unsafeShutdowns = 0;
  mediaErrors = 0;
  readonly startedAt = Date.now();
}

function u128(v: DataView, off: number, n: number): void {
  v.setBigUint64(off, BigInt(Math.floor(n)), true);
  v.setBigUint64(off + 8, 0n, true);
}

/** SMART / Health Information (512 bytes). */
export function smartLog(b: Uint8Array, h: HealthCounters, errorCount: number): void {
  b.fill(0, 0, 512);
  const v = new DataView(b.buffer, b.byteOffset, 512);
  b[0] = 0; // Critical Warning
  v.setUint16(1, 313, true); // Composite Temperature: 313 K (40 C)
  b[3] = 100; // Available Spare
  b[4] = 10; // Available Spare Threshold
  b[5] = 0; // Percentage Used
  // Data Units: thousands of 512-byte units, rounded up.
  u128(v, 32, Math.ceil(h.bytesRead / 512 / 1000));
  u128(v, 48, Math.ceil(h.bytesWritten / 512 / 1000));
  u128(v, 64, h.readCommands);
  u128(v, 80, h.writeCommands);
  u128(v, 96, 0); // Controller Busy Time
  u128(v, 112, h.powerCycles);
  u128(v, 128, (Date.now() - h.startedAt) / 3_600_000); // Power On Hours
  u128(v, 144, h.unsafeShutdowns);
  u128(v, 160, h.mediaErrors);
  u128(v, 176, errorCount); // Number of Error Information Log Entries
}

/** Error Information entries (64 bytes each), newest first, `entries` slots. */
export function errorLog(b: Uint8Array, list: readonly ErrorEntry[], entries: number): void {
  b.fill(0, 0, 64 * entries);
  const v = new DataView(b.buffer, b.byteOffset, 64 * entries);
  for (let i = 0; i < Math.min(entries, list.length); i++) {
    const e = list[list.length - 1 - i]!;
    const o = 64 * i;
    v.setBigUint64(o, BigInt(e.count), true); // Error Count
    v.setUint16(o + 8, e.sqid, true); // Submission Queue ID
    v.setUint16(o + 10, e.cid, true); // Command ID
    v.setUint16(o + 12, (e.status << 1) & 0xfffe, true); // Status Field (bit 0: phase tag, 0 here)
    v.setUint16(o + 14, 0xffff, true); // Parameter Error Location: not specified
    v.setBigUint64(o + 16, BigInt(e.lba), true); // LBA
    v.setUint32(o + 24, e.nsid, true); // Namespace
  }
}

/** Firmware Slot Information (512 bytes): slot 1 active, its revision. */
export function firmwareSlotLog(b: Uint8Array, firmware: string): void {
  b.fill(0, 0, 512);
  b[0] = 0x01; // AFI: slot 1 active
  for (let i = 0; i < 8; i++) b[8 + i] = i < firmware.length ? firmware.charCodeAt(i) & 0x7f : 0x20;
}
