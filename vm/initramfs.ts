// The guest's initramfs, built on the host and cached by content hash.
//
// It holds busybox-static (with a symlink per applet, from `busybox
// --list-full`), /dev/console (the kernel opens it for /init before any devtmpfs
// exists), /init (vm/guest/init.sh), and the kernel modules the guest needs,
// flattened into /lib/modules/<name>.ko with /lib/modules/load.list naming them
// in dependency order. Compressed modules are decompressed here (busybox insmod
// loads only plain ELF objects). The archive is plain uncompressed newc: under
// TCG unpacking it is quicker than inflating a gzip one, and it is only ~4 MiB.
//
// The cache directory is <tmpdir>/vfio-ts-vm-<kernel version>-<hash>, the hash
// covering the kernel version, every input file's bytes and this file's format
// version, so any change to the init script, the modules or busybox makes a new
// one and an unchanged one is reused across runs and processes. Building a new
// one removes those of the same kernel that nothing touched for an hour.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.js';
import { readModuleIndex, resolveModules, type KernelInfo } from './kernel.js';

/** Bumped whenever the archive layout changes in a way the inputs do not show. */
const FORMAT_VERSION = 1;

/**
 * The modules the guest loads (their dependencies come from modules.dep):
 * the VFIO stack, virtio-pci, and the 9p filesystem over virtio. No nvme driver:
 * the nvme device must stay free for vfio-pci.
 */
export const GUEST_MODULES = ['vfio', 'vfio_iommu_type1', 'vfio_pci', 'virtio_pci', '9pnet_virtio', '9p'] as const;

export interface InitramfsOptions {
  kernel: KernelInfo;
  busybox: string;
  /** Module names to load; default GUEST_MODULES. */
  modules?: readonly string[];
  /** Parent of the cache directory; default VFIO_TS_VM_CACHE or os.tmpdir(). */
  cacheRoot?: string;
}

export interface Initramfs {
  path: string;
  cacheDir: string;
  /** Whether this call built it (false: it was in the cache). */
  built: boolean;
  /** Module files in load order. */
  modules: string[];
}

/** Path of a file shipped in the source tree's vm/ directory, from src or dist. */
export function vmSourceFile(rel: string): string {
  const candidates = [new URL(`../../vm/${rel}`, import.meta.url), new URL(`./${rel}`, import.meta.url)];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(p)) return p;
  }
  throw new Error(`cannot find vm/${rel} (looked at ${candidates.map((c) => fileURLToPath(c)).join(', ')})`);
}

function readModule(path: string): Buffer {
  if (path.endsWith('.ko')) return readFileSync(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(path));
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (tool === undefined) throw new Error(`unknown module format: ${path}`);
  try {
    return execFileSync(tool, ['-dc', path], { maxBuffer: 256 << 20 });
  } catch (err) {
    throw new Error(
      `cannot decompress ${path} with ${tool} (apt-get install ${tool === 'xz' ? 'xz-utils' : 'zstd'}): ${(err as Error).message}`,
    );
  }
}

/** The applets busybox provides, as paths relative to / (e.g. "bin/sh"). */
function busyboxApplets(busybox: string): string[] {
  const out = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().replace(/^\/+/, ''))
    .filter((l) => l !== '' && !l.includes('..'));
}

/** Builds (or finds in the cache) the initramfs for this kernel. */
export function ensureInitramfs(opts: InitramfsOptions): Initramfs {
  const { kernel, busybox } = opts;
  const modulesDir = kernel.modulesDir;
  // A kernel without modules (the iommufd one) has everything built in: nothing to load.
  const mods = modulesDir === null ? [] : resolveModules(readModuleIndex(modulesDir), opts.modules ?? GUEST_MODULES);
  const init = readFileSync(vmSourceFile('guest/init.sh'));
  const busyboxBytes = readFileSync(busybox);
  const modBytes = mods.map((m) => ({ name: m.name, data: readModule(join(modulesDir!, m.file)) }));

  const hash = createHash('sha256');
  hash.update(`vfio-ts-vm initramfs v${FORMAT_VERSION}\0${kernel.version}\0`);
  hash.update(init).update('\0');
  hash.update(busyboxBytes).update('\0');
  for (const m of modBytes) hash.update(m.name).update('\0').update(m.data).update('\0');
  const digest = hash.digest('hex').slice(0, 16);

  const root = opts.cacheRoot ?? process.env.VFIO_TS_VM_CACHE ?? tmpdir();
  const cacheDir = join(root, `vfio-ts-vm-${kernel.version}-${digest}`);
  const path = join(cacheDir, 'initramfs.cpio');
  const modules = mods.map((m) => m.file);
  if (existsSync(path)) return { path, cacheDir, built: false, modules };

  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string): void => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ type: 'dir', path: d });
      }
    }
  };
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'root', 'job', 'host', 'lib/modules']) dir(d);
  entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 });
  entries.push({ type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  entries.push({ type: 'file', path: 'bin/busybox', data: busyboxBytes, mode: 0o755 });
  for (const applet of busyboxApplets(busybox)) {
    if (applet === 'bin/busybox') continue;
    const slash = applet.lastIndexOf('/');
    if (slash > 0) dir(applet.slice(0, slash));
    entries.push({ type: 'symlink', path: applet, target: '/bin/busybox' });
  }
  entries.push({ type: 'file', path: 'init', data: init, mode: 0o755 });
  for (const m of modBytes) entries.push({ type: 'file', path: `lib/modules/${m.name}.ko`, data: m.data });
  entries.push({ type: 'file', path: 'lib/modules/load.list', data: modBytes.map((m) => `${m.name}.ko\n`).join('') });

  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, writeCpio(entries));
  renameSync(tmp, path);
  pruneStale(root, `vfio-ts-vm-${kernel.version}-`, cacheDir);
  return { path, cacheDir, built: true, modules };
}

/** Removes superseded initramfs cache directories of this kernel untouched for an hour (not the vmlinux ones). */
function pruneStale(root: string, prefix: string, current: string): void {
  const hourAgo = Date.now() - 3600_000;
  for (const name of readdirSync(root)) {
    if (!name.startsWith(prefix) || !/^[0-9a-f]{16}$/.test(name.slice(prefix.length))) continue;
    const dir = join(root, name);
    if (dir === current) continue;
    try {
      if (statSync(dir).mtimeMs < hourAgo) rmSync(dir, { recursive: true, force: true });
    } catch {
      // raced with another process: fine
    }
  }
}
