// The guest test harness: run one command inside a fresh QEMU guest whose
// kernel has real vfio-pci devices behind a (virtual) IOMMU.
//
// A run is: find the kernel, busybox and QEMU (guestAvailable); build or reuse
// the cached initramfs and disk image (prepareGuest); make a job directory and
// write into it the guest's settings (guest.env, sourced by /init) and the job
// (job.sh: environment, directory, and the command exec'd through setpriv(1));
// boot QEMU on it; the guest's /init binds the devices to vfio-pci, chroots into
// the host's root shared read-only over 9p and runs job.sh there, so the
// command runs as an unprivileged user, its stdout, stderr and exit status written
// to files in the job directory, which the host tails while the guest runs; the
// guest powers off and the result is read back (with disk: 'writable', the guest
// booted a copy of the disk image, left in the job directory for the caller to
// read). The serial console is kept for
// errors: a guest that does not boot, dies or overruns its time rejects with an
// error carrying the console's tail. QEMU runs in its own process group, killed
// whole on timeout and when this process exits.

import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants as fsc,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ensureDiskImage } from './disk.js';
import { ensureInitramfs, GUEST_MODULES } from './initramfs.js';
import {
  ensureVmlinux,
  findIommufdKernel,
  findKernel,
  kernelConfigOption,
  readModuleIndex,
  resolveModules,
  type GuestKernel,
  type KernelInfo,
} from './kernel.js';
import { GUEST_DEVICES, qemuArgs, VFIO_BIND_IDS } from './qemu.js';

export interface RunOptions {
  /** argv of the command; argv[0] is looked up in the guest's PATH. */
  command: string[];
  /** Working directory in the guest (a host path: the host root is shared). Default process.cwd(). */
  cwd?: string;
  /** Added to the guest command's environment (which is otherwise minimal, not this process's). */
  env?: Record<string, string>;
  /** Whole-run limit, boot included. */
  timeoutMs: number;
  /** Run as root instead of the unprivileged user. */
  asRoot?: boolean;
  /** The kernel to boot: the host's Debian one ('default') or the 6.12 one with iommufd (vm/kernel.ts). */
  kernel?: GuestKernel;
  /** The unprivileged user and group (numeric); default 1000:1000. */
  uid?: number;
  gid?: number;
  /** ulimit -l value for the command, in KiB or "unlimited" (default). */
  memlock?: number | 'unlimited';
  memoryMiB?: number;
  cpus?: number;
  /** Live output: called with each new chunk while the guest runs. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  onConsole?: (chunk: Buffer) => void;
  /** Keep the job directory (also VFIO_TS_VM_KEEP=1); its path is in the result/error. */
  keep?: boolean;
  /**
   * The NVMe disk: 'snapshot' (default) boots the cached image with snapshot=on,
   * guest writes thrown away; 'writable' copies the image into the job directory
   * and boots the copy, which is left for the caller (result.diskPath) to read
   * and to remove (rmSync(result.jobDir, { recursive: true })). The cached image
   * is never written. A run that fails removes its copy (unless kept).
   */
  disk?: 'snapshot' | 'writable';
  /** Extra QEMU arguments and kernel command-line words. */
  qemuArgs?: string[];
  kernelArgs?: string[];
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The whole serial console (kernel messages and /init's progress lines). */
  console: string;
  /** From starting QEMU to the guest starting the command. */
  bootMs: number;
  /** From starting QEMU to QEMU exiting. */
  totalMs: number;
  /** The job directory when kept, or when it holds a writable disk (the caller removes it). */
  jobDir?: string;
  /** With disk: 'writable', the disk copy the guest wrote to (inside jobDir). */
  diskPath?: string;
}

/** Name of the writable disk copy in the job directory. */
export const WRITABLE_DISK_NAME = 'nvme.img';

export type GuestErrorCode = 'EGUESTUNAVAILABLE' | 'EGUESTBOOT' | 'ETIMEDOUT';

export class GuestError extends Error {
  readonly code: GuestErrorCode;
  readonly console: string;
  readonly stdout: string;
  readonly stderr: string;
  /** The QEMU process (and group) id, when one was started; it is dead by the time the error is thrown. */
  readonly qemuPid: number | undefined;
  constructor(
    code: GuestErrorCode,
    message: string,
    detail: { console?: string; stdout?: string; stderr?: string; qemuPid?: number } = {},
  ) {
    super(message);
    this.name = 'GuestError';
    this.code = code;
    this.console = detail.console ?? '';
    this.stdout = detail.stdout ?? '';
    this.stderr = detail.stderr ?? '';
    this.qemuPid = detail.qemuPid;
  }
}

export interface GuestTools {
  qemu: string;
  kernel: KernelInfo;
  busybox: string;
}

/** Programs of the host's root that the guest runs inside the chroot. */
export const CHROOT_PROGRAMS = ['/bin/sh', '/usr/bin/setpriv'] as const;

function findInPath(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when the ELF file at path has no PT_INTERP (is statically linked). */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false; // ELF64 only
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Finds what a guest needs on the host, or throws with what is missing. */
export function findGuestTools(env: NodeJS.ProcessEnv = process.env, which: GuestKernel = 'default'): GuestTools {
  if (env.VFIO_TS_GUEST === '1') throw new Error('already inside a test guest (VFIO_TS_GUEST=1): no nested guests');
  const qemuName = env.VFIO_TS_VM_QEMU ?? 'qemu-system-x86_64';
  const qemu = findInPath(qemuName);
  if (qemu === undefined) throw new Error(`${qemuName} not found (apt-get install qemu-system-x86)`);
  const kernel = which === 'iommufd' ? findIommufdKernel(env) : findKernel(env);
  try {
    accessSync(kernel.image, fsc.R_OK);
  } catch {
    throw new Error(`${kernel.image} is not readable by this user (Debian installs it 0600 on some systems; run as root or chmod it)`);
  }
  const busyboxCandidates = env.VFIO_TS_VM_BUSYBOX ? [env.VFIO_TS_VM_BUSYBOX] : ['/bin/busybox', '/usr/bin/busybox'];
  const busybox = busyboxCandidates.find((p) => existsSync(p));
  if (busybox === undefined) throw new Error('busybox not found (apt-get install busybox-static)');
  if (!isStaticElf(busybox)) throw new Error(`${busybox} is dynamically linked (apt-get install busybox-static)`);
  if (kernel.modulesDir !== null) resolveModules(readModuleIndex(kernel.modulesDir), GUEST_MODULES);
  for (const p of CHROOT_PROGRAMS) {
    if (!existsSync(p)) throw new Error(`${p} not found (the guest runs the host's own; setpriv is in util-linux)`);
  }
  return { qemu, kernel, busybox };
}

/** Whether a guest can be booted here, and if not, why (for a test's skip message). */
export function guestAvailable(which: GuestKernel = 'default'): { ok: boolean; reason?: string } {
  try {
    findGuestTools(process.env, which);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

export interface PreparedGuest {
  tools: GuestTools;
  /** What QEMU boots: the extracted vmlinux (PVH entry) when possible, else the bzImage. */
  bootImage: string;
  initramfs: string;
  cacheDir: string;
  disk: string;
  modules: string[];
}

const prepared = new Map<GuestKernel, PreparedGuest>();

/** Finds the tools and builds (or reuses) the initramfs and disk image; memoised per process and kernel. */
export function prepareGuest(which: GuestKernel = 'default'): PreparedGuest {
  const known = prepared.get(which);
  if (known !== undefined) return known;
  let tools: GuestTools;
  try {
    tools = findGuestTools(process.env, which);
  } catch (err) {
    throw new GuestError('EGUESTUNAVAILABLE', `cannot boot a test guest: ${(err as Error).message}`);
  }
  const cacheRoot = process.env.VFIO_TS_VM_CACHE ?? tmpdir();
  const ir = ensureInitramfs({ kernel: tools.kernel, busybox: tools.busybox, cacheRoot });
  const disk = ensureDiskImage(ir.cacheDir);
  const vmlinux = process.env.VFIO_TS_VM_PVH === '0' ? undefined : ensureVmlinux(tools.kernel, cacheRoot);
  const g = { tools, bootImage: vmlinux ?? tools.kernel.image, initramfs: ir.path, cacheDir: ir.cacheDir, disk, modules: ir.modules };
  prepared.set(which, g);
  return g;
}

/**
 * The guest mounts a fresh tmpfs on /tmp; a checkout (or node) that lives under
 * the host's /tmp would vanish under it, so the top directory under /tmp of
 * each such path is named for the guest to bind back.
 */
function tmpKeep(paths: readonly string[]): string[] {
  const keep = new Set<string>();
  for (const p of paths) {
    const m = /^\/tmp\/([^/]+)/.exec(p);
    if (m === null) continue;
    const name = m[1]!;
    if (!/^[A-Za-z0-9._@+-]+$/.test(name) || name === 'vfio-ts-vm' || name === '.' || name === '..') {
      throw new TypeError(`cannot show /tmp/${name} in the guest (its /tmp is a tmpfs); use a directory outside /tmp`);
    }
    keep.add(name);
  }
  return [...keep];
}

/** Quotes a value for a POSIX shell. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Escapes a value for a QEMU option list (commas are doubled). */
function qopt(s: string): string {
  return s.replace(/,/g, ',,');
}

/**
 * The script the guest runs with the host's /bin/sh inside the chroot, as root
 * and with an empty environment: export the command's environment, enter its
 * directory, and exec it, through setpriv(1) when it must run as `user` (no
 * supplementary groups). A command that cannot be found or run exits 127 (126),
 * as in a shell.
 */
export function jobScript(
  argv: readonly string[],
  cwd: string,
  env: Record<string, string>,
  user: { uid: number; gid: number } | undefined,
): string {
  const lines = ['# written by vfio-ts vm/harness.ts for one guest run'];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new TypeError(`bad environment variable name ${JSON.stringify(k)}`);
    lines.push(`export ${shq(`${k}=${v}`)}`);
  }
  lines.push(`cd ${shq(cwd)} || exit 127`);
  const cmd = argv.map(shq).join(' ');
  if (user === undefined) {
    lines.push(`exec ${cmd}`);
  } else {
    if (!Number.isInteger(user.uid) || !Number.isInteger(user.gid) || user.uid < 0 || user.gid < 0)
      throw new TypeError(`bad uid/gid ${user.uid}:${user.gid}`);
    lines.push(`exec /usr/bin/setpriv --reuid=${user.uid} --regid=${user.gid} --clear-groups -- ${cmd}`);
  }
  return lines.join('\n') + '\n';
}

const CONSOLE_KEEP = 1 << 20;
const TAIL_LINES = 60;

function tail(text: string, lines = TAIL_LINES): string {
  const all = text.replace(/\r/g, '').split('\n');
  return all.slice(-lines).join('\n');
}

/** Follows a file that another process appends to. */
class FileTail {
  private offset = 0;
  private readonly chunks: Buffer[] = [];
  constructor(
    private readonly path: string,
    private readonly onChunk: ((b: Buffer) => void) | undefined,
  ) {}
  poll(): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return;
    }
    try {
      const size = statSync(this.path).size;
      while (this.offset < size) {
        const b = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const n = readSync(fd, b, 0, b.length, this.offset);
        if (n <= 0) break;
        const chunk = b.subarray(0, n);
        this.offset += n;
        this.chunks.push(chunk);
        this.onChunk?.(chunk);
      }
    } finally {
      closeSync(fd);
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** How many guests this process started are still running. */
export function runningGuests(): number {
  return live.size;
}

/** Kills every guest this process started and that still runs. */
export function killAllGuests(): void {
  for (const c of live) killGroup(c);
}

/**
 * Boots a guest, runs the command in it and resolves with its exit code and
 * output. Rejects with a GuestError when no guest can be booted here
 * (EGUESTUNAVAILABLE), when the guest does not get to run the command or dies
 * before reporting (EGUESTBOOT), or when the time runs out (ETIMEDOUT, the QEMU
 * process group is killed); the message carries the console's tail.
 */
export async function runInGuest(opts: RunOptions): Promise<RunResult> {
  if (opts.command.length === 0) throw new TypeError('runInGuest: empty command');
  const g = prepareGuest(opts.kernel ?? 'default');
  const cwd = resolve(opts.cwd ?? process.cwd());
  if (!isAbsolute(cwd)) throw new TypeError(`cwd must be absolute: ${cwd}`);
  const uid = opts.uid ?? 1000;
  const gid = opts.gid ?? 1000;
  if (![uid, gid].every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1)) throw new TypeError(`bad uid/gid ${uid}:${gid}`);
  const keep = opts.keep ?? process.env.VFIO_TS_VM_KEEP === '1';
  const diskMode = opts.disk ?? 'snapshot';
  if (diskMode !== 'snapshot' && diskMode !== 'writable') throw new TypeError(`runInGuest: bad disk option ${JSON.stringify(diskMode)}`);
  const verbose = process.env.VFIO_TS_VM_VERBOSE === '1';

  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    VFIO_TS_GUEST: '1',
    VFIO_TS_GUEST_EDU: GUEST_DEVICES.edu.bdf,
    VFIO_TS_GUEST_NVME: GUEST_DEVICES.nvme.bdf,
    // Whether claiming a BAR revokes its sysfs mappings (the broker's --mmap relies on it): y, n or unknown.
    VFIO_TS_GUEST_IO_STRICT_DEVMEM: kernelConfigOption(g.tools.kernel, 'IO_STRICT_DEVMEM') ?? 'unknown',
    ...opts.env,
  };
  // Everything that can throw on bad options comes before the job directory exists.
  const script = jobScript(opts.command, cwd, env, opts.asRoot ? undefined : { uid, gid });
  const keepInTmp = tmpKeep([cwd, dirname(process.execPath)]);
  const guestTimeoutS = Math.ceil(opts.timeoutMs / 1000) + 30;
  const jobDir = mkdtempSync(join(tmpdir(), 'vfio-ts-vm-run-'));
  writeFileSync(
    join(jobDir, 'guest.env'),
    [
      `VM_BIND_IDS=${shq(VFIO_BIND_IDS.join(' '))}`,
      `VM_UID=${uid}`,
      `VM_GID=${gid}`,
      `VM_MEMLOCK=${shq(String(opts.memlock ?? 'unlimited'))}`,
      `VM_TIMEOUT_S=${guestTimeoutS}`,
      `VM_HOST_CACHE=${shq(process.env.VFIO_TS_VM_HOST_CACHE ?? 'loose')}`,
      `VM_TMP_KEEP=${shq(keepInTmp.join(' '))}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(jobDir, 'job.sh'), script);
  let diskPath: string | undefined;
  if (diskMode === 'writable') {
    diskPath = join(jobDir, WRITABLE_DISK_NAME);
    try {
      copyFileSync(g.disk, diskPath);
      chmodSync(diskPath, 0o644); // QEMU opens it read-write, whatever the cached image's mode
    } catch (e) {
      rmSync(jobDir, { recursive: true, force: true });
      throw e;
    }
  }

  const args = qemuArgs({
    kernel: qopt(g.bootImage),
    initramfs: qopt(g.initramfs),
    disk: qopt(diskPath ?? g.disk),
    diskSnapshot: diskPath === undefined,
    jobDir: qopt(jobDir),
    memoryMiB: opts.memoryMiB ?? 1024,
    cpus: opts.cpus ?? 1,
    append: opts.kernelArgs ?? [],
    extraArgs: opts.qemuArgs ?? [],
  });

  const start = performance.now();
  const child = spawn(g.tools.qemu, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllGuests);
  }

  let consoleText = '';
  let qemuStderr = '';
  let bootMs = -1;
  let lineBuf = '';
  const decoder = new StringDecoder('utf8');
  child.stdout!.on('data', (b: Buffer) => {
    opts.onConsole?.(b);
    if (verbose) process.stderr.write(b);
    const s = decoder.write(b);
    consoleText += s;
    if (consoleText.length > CONSOLE_KEEP) consoleText = consoleText.slice(-CONSOLE_KEEP);
    if (bootMs < 0) {
      lineBuf = (lineBuf + s).slice(-4096);
      if (/(^|\n)vfio-ts-vm: run\r?\n/.test(lineBuf)) bootMs = performance.now() - start;
    }
  });
  child.stderr!.on('data', (b: Buffer) => {
    qemuStderr = (qemuStderr + b.toString('utf8')).slice(-65536);
    if (verbose) process.stderr.write(b);
  });

  const out = new FileTail(join(jobDir, 'stdout'), opts.onStdout);
  const err = new FileTail(join(jobDir, 'stderr'), opts.onStderr);
  const poller = setInterval(() => {
    out.poll();
    err.poll();
  }, 100);

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, opts.timeoutMs);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((res) => {
    child.on('error', (e) => res({ code: null, signal: null, error: e }));
    child.on('close', (code, signal) => res({ code, signal }));
  });
  const totalMs = performance.now() - start;
  clearTimeout(timer);
  clearInterval(poller);
  live.delete(child);
  out.poll();
  err.poll();

  const statusFile = join(jobDir, 'status');
  const status = existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim() : undefined;
  const guestError = existsSync(join(jobDir, 'guest-error')) ? readFileSync(join(jobDir, 'guest-error'), 'utf8').trim() : undefined;
  const succeeded = !timedOut && exit.error === undefined && status !== undefined && /^\d+$/.test(status);
  if (keep) {
    // everything stays
  } else if (diskPath !== undefined && succeeded) {
    // Only the disk copy stays, for the caller.
    for (const name of readdirSync(jobDir)) if (name !== WRITABLE_DISK_NAME) rmSync(join(jobDir, name), { recursive: true, force: true });
  } else {
    rmSync(jobDir, { recursive: true, force: true });
  }
  const where = keep ? `\njob directory kept: ${jobDir}` : '';
  const detail = { console: consoleText, stdout: out.text(), stderr: err.text(), qemuPid: child.pid };
  const consoleTail = `\n--- console tail ---\n${tail(consoleText)}${qemuStderr.trim() !== '' ? `\n--- qemu stderr ---\n${tail(qemuStderr, 20)}` : ''}`;

  if (timedOut) {
    throw new GuestError(
      'ETIMEDOUT',
      `guest timed out after ${opts.timeoutMs} ms (${bootMs < 0 ? 'still booting' : `command running since ${Math.round(bootMs)} ms`}); QEMU killed: ${opts.command.join(' ')}${where}${consoleTail}`,
      detail,
    );
  }
  if (exit.error !== undefined) throw new GuestError('EGUESTBOOT', `cannot start ${g.tools.qemu}: ${exit.error.message}`, detail);
  if (status === undefined || !/^\d+$/.test(status)) {
    const why =
      guestError !== undefined
        ? `guest /init failed: ${guestError}`
        : `QEMU exited (${exit.signal ?? exit.code}) before the guest reported an exit status`;
    throw new GuestError('EGUESTBOOT', `${why}${where}${consoleTail}`, detail);
  }
  const result: RunResult = {
    exitCode: Number(status),
    stdout: out.text(),
    stderr: err.text(),
    console: consoleText,
    bootMs: Math.round(bootMs),
    totalMs: Math.round(totalMs),
  };
  if (keep || diskPath !== undefined) result.jobDir = jobDir;
  if (diskPath !== undefined) result.diskPath = diskPath;
  return result;
}
