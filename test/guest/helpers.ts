// Shared by the guest tests (test/guest/*.test.ts). They run INSIDE the QEMU
// test guest (vm/harness.ts), where edu and nvme are bound to vfio-pci and
// their group files belong to the unprivileged user; everywhere else (plain
// `npm test` on the host walks out/test/ too) each test skips itself with the
// reason in its name.

import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

export const IN_GUEST = process.env.VFIO_TS_GUEST === '1';
const NOT_GUEST = 'not in a test guest (VFIO_TS_GUEST != 1); run: node out/vm/cli.js -- node --test out/test/guest/';

/** The guest's devices (vm/qemu.ts GUEST_DEVICES), as the guest's environment names them. */
export const EDU = process.env.VFIO_TS_GUEST_EDU ?? '0000:00:04.0';
export const NVME = process.env.VFIO_TS_GUEST_NVME ?? '0000:00:05.0';
/** A virtio-9p device of the guest, bound to virtio-pci: never to vfio-pci. */
export const NOT_VFIO = '0000:00:06.0';

export const IS_ROOT = process.getuid?.() === 0;

export interface GuestTestOptions {
  /** Only as root (true) or only as the unprivileged user (false). */
  root?: boolean;
  /** Only when the tests' opens take this flow (FLOW below). */
  flow?: 'container' | 'iommufd';
  timeout?: number;
}

/** A test that runs only in the guest (and as root or not, if asked); skipped with the reason in its name elsewhere. */
export function guestTest(name: string, options: GuestTestOptions, fn: (t: TestContext) => unknown): void {
  let reason: string | false = false;
  if (!IN_GUEST) reason = NOT_GUEST;
  else if (options.root === true && !IS_ROOT) reason = 'needs root in the guest (test/vm/guest-suite.test.ts runs it as root)';
  else if (options.root === false && IS_ROOT) reason = 'must run as the unprivileged user, not root';
  else if (options.flow !== undefined && options.flow !== FLOW)
    reason = `only through the ${options.flow} flow, this run takes ${FLOW} (test/vm/guest-suite-iommufd.test.ts runs both)`;
  test(
    reason ? `${name} (SKIPPED: ${reason})` : name,
    { skip: reason, timeout: options.timeout ?? 60_000 },
    fn as (t: TestContext) => Promise<void>,
  );
}

/** Polls `cond` every few ms (giving QEMU's threads the CPU) until it is true. */
export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** URL of the compiled kernel backend, for child processes. */
export const VFIO_MODULE = new URL('./vfio-api.js', import.meta.url).href;

export interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line, parsed as JSON, when it is. */
  json: Record<string, unknown> | undefined;
}

/**
 * Runs an ES module snippet in a fresh node, optionally through a shell
 * prefix (e.g. `ulimit -l 64`) or as another user (setpriv).
 */
export function runNode(code: string, options: { shellPrefix?: string; asUser?: { uid: number; gid: number } } = {}): ChildResult {
  let argv: string[] = [process.execPath, '--input-type=module', '-e', code];
  if (options.shellPrefix !== undefined) argv = ['/bin/sh', '-c', `${options.shellPrefix} && exec "$@"`, 'sh', ...argv];
  if (options.asUser)
    argv = ['/usr/bin/setpriv', `--reuid=${options.asUser.uid}`, `--regid=${options.asUser.gid}`, '--clear-groups', '--', ...argv];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

/** A child snippet: runs `body` (which may throw) and prints {ok} or the error's code, hint and message as JSON. */
export function childScript(body: string): string {
  return `
import * as vfio from ${JSON.stringify(VFIO_MODULE)};
try {
  ${body}
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, errnoName: e.errnoName, hint: e.hint, message: e.message }));
}
`;
}

/**
 * What `auto` must pick on the guest's kernel, as the host-side runner that
 * booted it says (VFIO_TS_GUEST_AUTO_FLOW): 'container' on Debian's 6.1, which
 * has no vfio cdev; 'iommufd' on the iommufd kernel.
 */
export const AUTO_FLOW: 'container' | 'iommufd' = process.env.VFIO_TS_GUEST_AUTO_FLOW === 'iommufd' ? 'iommufd' : 'container';
/** The flow the tests' opens take: VFIO_TS_IOMMU when set (test/guest/vfio-api.ts), else AUTO_FLOW. */
export const FLOW: 'container' | 'iommufd' =
  process.env.VFIO_TS_IOMMU === 'iommufd' || process.env.VFIO_TS_IOMMU === 'container' ? process.env.VFIO_TS_IOMMU : AUTO_FLOW;

/**
 * As root: gives edu's (or another device's) group file, and its vfio cdev
 * where the kernel has one, to the user, as /init did; a removal and rescan
 * makes them anew, root's.
 */
export function giveToUser(bdf: string, user: { uid: number; gid: number }): void {
  const dir = `/sys/bus/pci/devices/${bdf}`;
  chownSync(`/dev/vfio/${basename(readlinkSync(`${dir}/iommu_group`))}`, user.uid, user.gid);
  // Linux 6.1 lists vfio-dev/vfioN too; only a kernel with the vfio cdev gives it a dev number (and a /dev node).
  if (existsSync(`${dir}/vfio-dev`))
    for (const n of readdirSync(`${dir}/vfio-dev`))
      if (existsSync(`${dir}/vfio-dev/${n}/dev`)) chownSync(`/dev/vfio/devices/${n}`, user.uid, user.gid);
}

/** The VFIO files (/dev/vfio/..., /dev/iommu) that process `pid` has open (as root, or of one's own). */
export function vfioFilesOf(pid: number): string[] {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('/dev/vfio/') || target === '/dev/iommu') out.add(target);
    } catch {
      // closed meanwhile
    }
  }
  return [...out].sort();
}
