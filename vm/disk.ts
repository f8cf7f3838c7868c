// The guest's NVMe disk: a small raw image with content anyone can recompute.
//
// Block i (512 bytes) begins with the ASCII line "vfio-ts disk block <i>\n" and
// is filled after it with the byte (i * 7 + offset) & 0xff, so a driver test in
// the guest can check any block it read against diskBlock(i) without the host
// telling it anything. QEMU opens the image with snapshot=on: guest writes go to
// a throw-away overlay, every boot sees the same content, and concurrent guests
// do not fight over the image lock. A run with `disk: 'writable'` boots a copy
// of the image instead, which the host reads afterwards: the driver test writes
// driverWritePattern() at DRIVER_WRITE_LBA and test/vm/guest-suite.test.ts checks
// that it reached the copy.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DISK_BLOCK_SIZE = 512;
export const DISK_BLOCKS = 8192; // 4 MiB
/** Serial number of the guest's QEMU nvme device. */
export const NVME_SERIAL = 'vfiots-nvme-0001';

/** The expected content of block `lba` of the guest's NVMe namespace 1. */
export function diskBlock(lba: number): Buffer {
  if (!Number.isInteger(lba) || lba < 0 || lba >= DISK_BLOCKS) throw new RangeError(`lba ${lba} outside the disk`);
  const b = Buffer.alloc(DISK_BLOCK_SIZE);
  for (let off = 0; off < DISK_BLOCK_SIZE; off++) b[off] = (lba * 7 + off) & 0xff;
  b.write(`vfio-ts disk block ${lba}\n`, 0, 'ascii');
  return b;
}

/**
 * Where the NVMe driver's guest test writes driverWritePattern() for the host to
 * find in a writable disk copy after the run: blocks 3200-3263 (32 KiB, so a
 * PRP list), which no other guest test reads or writes (test/guest/
 * nvme-driver.test.ts lists the blocks the others use).
 */
export const DRIVER_WRITE_LBA = 3200;
export const DRIVER_WRITE_BLOCKS = 64;

/**
 * What the driver writes at DRIVER_WRITE_LBA: deterministic, and unlike any
 * diskBlock(i). Each block begins "vfio-ts driver block <lba>\n" and is filled
 * with (lba * 13 + offset * 3 + 0x5a) & 0xff.
 */
export function driverWritePattern(): Uint8Array {
  const b = Buffer.alloc(DRIVER_WRITE_BLOCKS * DISK_BLOCK_SIZE);
  for (let i = 0; i < DRIVER_WRITE_BLOCKS; i++) {
    const lba = DRIVER_WRITE_LBA + i;
    const block = b.subarray(i * DISK_BLOCK_SIZE, (i + 1) * DISK_BLOCK_SIZE);
    for (let off = 0; off < DISK_BLOCK_SIZE; off++) block[off] = (lba * 13 + off * 3 + 0x5a) & 0xff;
    block.write(`vfio-ts driver block ${lba}\n`, 0, 'ascii');
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** The whole image. */
export function diskImage(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < DISK_BLOCKS; i++) parts.push(diskBlock(i));
  return Buffer.concat(parts);
}

/** Writes the image into dir (once; its name carries its hash) and returns its path. */
export function ensureDiskImage(dir: string): string {
  const image = diskImage();
  const hash = createHash('sha256').update(image).digest('hex').slice(0, 16);
  const path = join(dir, `nvme-${hash}.img`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, image);
    renameSync(tmp, path);
  }
  return path;
}
