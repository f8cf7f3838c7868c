// The host side of the guest suite, shared by test/vm/guest-suite.test.ts
// (Debian's kernel) and test/vm/guest-suite-iommufd.test.ts (the iommufd
// kernel, twice): ONE guest boot (each costs 2-9 s under TCG) runs the
// unprivileged suite (test/guest/) as the user (setpriv) and then the
// root-only files (root-*.test.js) as root, both with the TAP reporter; every
// guest test becomes a subtest here, passing, failing (with the guest's error,
// location and stack) or skipped as it did in the guest, its diagnostics kept.
// The guest boots a writable copy of the NVMe disk image: after the run a host
// subtest reads the copy and checks that what the driver test wrote
// (vm/disk.ts driverWritePattern() at DRIVER_WRITE_LBA) is there and that
// blocks no test writes are as the host made them; then the copy is removed.
// A guest that does not boot fails loudly with the console's tail; where no
// guest can be booted, one skipped test says why.

import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import type { GuestKernel } from '../../vm/kernel.js';
import { fileURLToPath } from 'node:url';
import { guestAvailable, prepareGuest, runInGuest, type RunResult } from '../../vm/harness.js';
import { DISK_BLOCK_SIZE, DISK_BLOCKS, diskBlock, DRIVER_WRITE_BLOCKS, DRIVER_WRITE_LBA, driverWritePattern } from '../../vm/disk.js';
import { parseTap, type TapTest } from './tap.js';

/** Reads `blocks` blocks at `lba` from a raw disk image. */
function readImage(path: string, lba: number, blocks: number): Buffer {
  const b = Buffer.alloc(blocks * DISK_BLOCK_SIZE);
  const fd = openSync(path, 'r');
  try {
    const n = readSync(fd, b, 0, b.length, lba * DISK_BLOCK_SIZE);
    assert.equal(n, b.length, `short read of ${path} at block ${lba}`);
  } finally {
    closeSync(fd);
  }
  return b;
}

/** Blocks that no guest test writes (see test/guest/nvme-driver.test.ts). */
const UNTOUCHED = [0, 7, 1000, DRIVER_WRITE_LBA - 1, DRIVER_WRITE_LBA + DRIVER_WRITE_BLOCKS, 5000, DISK_BLOCKS - 1];

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/vm -> checkout
const USER = { uid: 1000, gid: 1000 };
const MARK = '### vfio-ts-guest-suite';

// Runs in the guest as root, in the checkout. Each part's exit status is printed after its TAP.
const SCRIPT = `
cd ${JSON.stringify(ROOT)} || exit 127
user_files=$(ls out/test/guest/*.test.js | grep -v '/root-')
root_files=$(ls out/test/guest/root-*.test.js 2>/dev/null)
echo "${MARK} user"
/usr/bin/setpriv --reuid=${USER.uid} --regid=${USER.gid} --clear-groups -- node --test --test-concurrency=1 --test-reporter=tap $user_files
echo "${MARK} user exit $?"
if [ -n "$root_files" ]; then
  echo "${MARK} root"
  node --test --test-concurrency=1 --test-reporter=tap $root_files
  echo "${MARK} root exit $?"
fi
`;

interface Part {
  name: string;
  tap: string;
  exit: number | undefined;
}

function splitParts(stdout: string): Part[] {
  const parts: Part[] = [];
  let cur: Part | undefined;
  for (const line of stdout.replace(/\r/g, '').split('\n')) {
    const m = /^### vfio-ts-guest-suite (\w+)(?: exit (\d+))?$/.exec(line);
    if (m) {
      if (m[2] === undefined) {
        cur = { name: m[1]!, tap: '', exit: undefined };
        parts.push(cur);
      } else if (cur && cur.name === m[1]) {
        cur.exit = Number(m[2]);
        cur = undefined;
      }
      continue;
    }
    if (cur) cur.tap += line + '\n';
  }
  return parts;
}

/** Replays one guest test (and its subtests) as a subtest of `t`. */
async function replay(t: TestContext, g: TapTest, prefix: string): Promise<void> {
  const opts: { skip?: string; todo?: string } = {};
  if (g.skip !== undefined) opts.skip = g.skip || 'skipped in the guest';
  if (g.todo !== undefined) opts.todo = g.todo || 'todo in the guest';
  await t.test(`${prefix}${g.name}`, opts, async (st) => {
    for (const d of g.diagnostics) st.diagnostic(d);
    for (const s of g.subtests) await replay(st, s, '');
    if (!g.ok && g.todo === undefined && g.subtests.every((s) => s.ok)) {
      throw new Error(`failed in the guest:\n${g.yaml}`);
    }
  });
}

export interface GuestSuiteRun {
  /** The test's name. */
  name: string;
  kernel: GuestKernel;
  /** The guest tests' environment: VFIO_TS_GUEST_AUTO_FLOW (what auto must pick), VFIO_TS_IOMMU (a forced flow). */
  env: Record<string, string>;
}

/** Registers one guest-suite run as a test (skipped, saying why, where that guest cannot boot). */
export function guestSuiteTest(run: GuestSuiteRun): void {
  const avail = guestAvailable(run.kernel);
  if (!avail.ok) {
    test(`${run.name} (SKIPPED: no test guest: ${avail.reason})`, { skip: `no test guest: ${avail.reason}` }, () => {});
    return;
  }
  test(run.name, { timeout: 400_000 }, async (t) => {
    let r: RunResult;
    try {
      r = await runInGuest({
        command: ['/bin/sh', '-c', SCRIPT],
        cwd: ROOT,
        asRoot: true,
        timeoutMs: 300_000,
        disk: 'writable',
        kernel: run.kernel,
        env: run.env,
      });
    } catch (err) {
      // GuestError: the message ends with the console's tail and QEMU's stderr.
      throw new Error(`the guest did not run the suite: ${(err as Error).message}`, { cause: err });
    }
    try {
      await guestResults(t, r);
    } finally {
      await hostDiskCheck(t, r, run.kernel);
      if (r.jobDir !== undefined) rmSync(r.jobDir, { recursive: true, force: true });
    }
  });
}

/** The guest's results replayed as subtests. */
async function guestResults(t: TestContext, r: RunResult): Promise<void> {
  t.diagnostic(`guest booted in ${r.bootMs} ms, whole run ${r.totalMs} ms`);
  const parts = splitParts(r.stdout);
  const context = `exit ${r.exitCode}\n--- stderr ---\n${r.stderr.slice(-4000)}\n--- console tail ---\n${r.console.slice(-3000)}`;
  assert.ok(
    parts.some((p) => p.name === 'user'),
    `the guest printed no test results\n${context}`,
  );
  for (const part of parts) {
    const tap = parseTap(part.tap);
    const s = tap.summary;
    t.diagnostic(
      `${part.name}: ${s.tests ?? '?'} tests, ${s.pass ?? '?'} passed, ${s.fail ?? '?'} failed, ${s.skipped ?? '?'} skipped, in ${Math.round(s.duration_ms ?? 0)} ms`,
    );
    assert.ok(tap.tests.length > 0, `${part.name}: no guest test reported\n${part.tap.slice(-3000)}\n${context}`);
    for (const g of tap.tests) await replay(t, g, `[guest ${part.name}] `);
    const failed = tap.tests.some((g) => !g.ok && g.todo === undefined);
    // A runner that exits badly with every test passing crashed around them: say so.
    assert.ok(part.exit === 0 || failed, `${part.name}: node --test exited ${part.exit ?? '(no status)'} with no failing test\n${context}`);
  }
}

/** The host reads the writable disk copy the guest booted. */
async function hostDiskCheck(t: TestContext, r: RunResult, kernel: GuestKernel): Promise<void> {
  await t.test('[host] the disk image copy holds what the nvme driver wrote in the guest, and the rest as the host made it', () => {
    const path = r.diskPath;
    assert.ok(path !== undefined, 'runInGuest returned the writable disk copy');
    const got = readImage(path, DRIVER_WRITE_LBA, DRIVER_WRITE_BLOCKS);
    const want = Buffer.from(driverWritePattern());
    for (let i = 0; i < DRIVER_WRITE_BLOCKS; i++) {
      const lba = DRIVER_WRITE_LBA + i;
      const block = got.subarray(i * DISK_BLOCK_SIZE, (i + 1) * DISK_BLOCK_SIZE);
      const diag = block.equals(diskBlock(lba))
        ? 'still as the host wrote it (the write never reached the image)'
        : `starts ${JSON.stringify(block.toString('latin1', 0, 32))}`;
      assert.ok(
        block.equals(want.subarray(i * DISK_BLOCK_SIZE, (i + 1) * DISK_BLOCK_SIZE)),
        `block ${lba} of ${path} is the driver's pattern: ${diag}`,
      );
    }
    for (const lba of UNTOUCHED) assert.ok(readImage(path, lba, 1).equals(diskBlock(lba)), `block ${lba} untouched`);
    const pristine = prepareGuest(kernel).disk;
    assert.notEqual(pristine, path);
    assert.ok(readImage(pristine, DRIVER_WRITE_LBA, 1).equals(diskBlock(DRIVER_WRITE_LBA)), `the cached image ${pristine} is untouched`);
  });
}
