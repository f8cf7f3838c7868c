// A writer for the "newc" cpio format (SVR4 without CRC), the one the Linux
// kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst).
//
// Each entry is a 110-byte ASCII header - the magic "070701" then thirteen
// 8-digit hex fields - followed by the NUL-terminated name padded to a
// multiple of 4 bytes, then the data padded to a multiple of 4. The archive ends
// with an entry named "TRAILER!!!". Entries are written with mtime 0 and
// uid/gid 0 so the same inputs always give the same bytes (the cache key of the
// initramfs is the hash of those bytes' inputs).

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Uint8Array | string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Serialises entries into one uncompressed newc archive (with its trailer). */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  let ino = 1;
  const push = (b: Buffer): void => {
    chunks.push(b);
    offset += b.length;
  };
  const entry = (name: string, mode: number, nlink: number, data: Buffer, rdevMajor = 0, rdevMinor = 0): void => {
    const nameBytes = Buffer.from(name + '\0', 'utf8');
    const header =
      '070701' +
      hex8(name === 'TRAILER!!!' ? 0 : ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(0) + // mtime
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(rdevMajor) +
      hex8(rdevMinor) +
      hex8(nameBytes.length) +
      hex8(0); // check
    push(Buffer.from(header, 'ascii'));
    push(nameBytes);
    push(Buffer.alloc(pad4(offset)));
    if (data.length > 0) {
      push(data);
      push(Buffer.alloc(pad4(offset)));
    }
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    if (name === '' || name.includes('\0')) throw new TypeError(`bad cpio path ${JSON.stringify(e.path)}`);
    switch (e.type) {
      case 'dir':
        entry(name, S_IFDIR | (e.mode ?? 0o755), 2, Buffer.alloc(0));
        break;
      case 'file':
        entry(name, S_IFREG | (e.mode ?? 0o644), 1, typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : Buffer.from(e.data));
        break;
      case 'symlink':
        entry(name, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'));
        break;
      case 'chardev':
        entry(name, S_IFCHR | (e.mode ?? 0o600), 1, Buffer.alloc(0), e.major, e.minor);
        break;
    }
  }
  entry('TRAILER!!!', 0, 1, Buffer.alloc(0));
  return Buffer.concat(chunks, offset);
}
