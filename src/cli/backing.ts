// `serve nvme --backing FILE --size N [--resize]`: the namespace's store,
// decided before the model is built, so that nothing a user did not ask for
// happens to their file. A new file is created at --size (default 64 MiB); an
// existing one is used at its size; growing or shrinking it needs --resize.
// Sizes are whole 512-byte blocks and must fit where they go (memory, or the
// free space of the file's filesystem).

import { constants as bufferConstants } from 'node:buffer';
import { statSync, statfsSync, truncateSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fail } from '../errors.js';
import { DEFAULT_NAMESPACE_SIZE } from '../devices/nvme/namespace.js';
import { UsageError } from './usage.js';

export const BLOCK_SIZE = 512;

export interface BackingRequest {
  backing?: string;
  size?: number;
  resize?: boolean;
}

/** What the model gets, and the line that says what happened to the file. */
export interface BackingPlan {
  size: number;
  file?: string;
  /** Done once the model holds the file (the report comes after it succeeded). */
  report: string;
  /** Truncates an existing file to `size` (only with --resize). */
  apply(): void;
}

function checkBlocks(size: number): void {
  if (size < BLOCK_SIZE || size % BLOCK_SIZE !== 0)
    throw new UsageError(`--size: ${size} bytes is not a whole number of ${BLOCK_SIZE}-byte blocks`);
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Checks the request and says what will be done; throws UsageError (exit 2) for what would surprise. */
export function planBacking(r: BackingRequest): BackingPlan {
  if (r.backing === undefined) {
    if (r.resize) throw new UsageError('--resize: only with --backing FILE');
    const size = r.size ?? DEFAULT_NAMESPACE_SIZE;
    checkBlocks(size);
    const most = Math.min(bufferConstants.MAX_LENGTH, totalmem());
    if (size > most)
      throw new UsageError(`--size: ${size} bytes do not fit in memory (at most ${most} here); use --backing FILE for a larger namespace`);
    return { size, report: `namespace in memory, ${size} bytes`, apply() {} };
  }
  const file = r.backing;
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!st) {
    const size = r.size ?? DEFAULT_NAMESPACE_SIZE;
    checkBlocks(size);
    let free;
    try {
      free = freeBytes(dirname(file));
    } catch {
      throw fail('ENOENT', `--backing: cannot create ${file}: the folder ${dirname(file)} does not exist`);
    }
    if (size > free) throw new UsageError(`--size: ${size} bytes do not fit in the ${free} bytes free where ${file} would be`);
    return { size, file, report: `created ${file} of ${size} bytes`, apply() {} };
  }
  if (!st.isFile()) throw new UsageError(`--backing: ${file} is not a regular file`);
  const have = st.size;
  const size = r.size ?? have;
  if (size !== have && !r.resize) {
    throw new UsageError(
      `--size: ${file} has ${have} bytes; to ${size > have ? 'grow' : 'shrink'} it to ${size}, add --resize (or leave --size out to use it as it is)`,
    );
  }
  if (r.size === undefined && (have < BLOCK_SIZE || have % BLOCK_SIZE !== 0)) {
    throw new UsageError(
      `--backing: ${file} has ${have} bytes, not a whole number of ${BLOCK_SIZE}-byte blocks; give --size N --resize to resize it`,
    );
  }
  checkBlocks(size);
  if (size > have && size - have > freeBytes(dirname(file)))
    throw new UsageError(`--size: growing ${file} to ${size} bytes needs more than the space free there`);
  return {
    size,
    file,
    report: size === have ? `using ${file} of ${size} bytes` : `resized ${file} from ${have} to ${size} bytes`,
    apply: () => {
      if (size !== have) truncateSync(file, size);
    },
  };
}
