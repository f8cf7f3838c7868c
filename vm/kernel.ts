// The guest kernel: which one is installed, and which of its modules the guest
// must load.
//
// The harness boots the host's own Debian kernel (linux-image-amd64) by
// default: the image is /boot/vmlinuz-<version> and its modules are under
// /lib/modules/<version>. The second kernel, 'iommufd', is a 6.12 image with
// iommufd and the vfio cdev built in and no modules at all
// (vm/build-iommufd-kernel.sh builds one); it is looked up as
// VFIO_TS_VM_IOMMUFD_KERNEL (the bzImage or its folder), else as
// shared/kernels/bzImage-<version> in the nearest folder above the checkout
// that has one.
// A module is named as the kernel names it ("vfio-pci" and "vfio_pci" are the
// same module); modules.dep lists, for each module file, every module it needs
// (transitively), and modules.builtin lists those compiled into the image,
// which need no loading. The load order is a post-order walk of the dependency
// lists, so every module comes after all of its dependencies.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export interface KernelInfo {
  version: string;
  /** Path of the bzImage. */
  image: string;
  /** /lib/modules/<version>, or null for a kernel with everything built in. */
  modulesDir: string | null;
}

/** Which kernel a guest boots: the host's Debian one, or the 6.12 one with iommufd. */
export type GuestKernel = 'default' | 'iommufd';

export const IOMMUFD_KERNEL_HOWTO =
  "build one with vm/build-iommufd-kernel.sh (Linux 6.12 from Debian's linux-source-6.12 with IOMMUFD and VFIO_DEVICE_CDEV built in, ~15 min on 2 CPUs) and point VFIO_TS_VM_IOMMUFD_KERNEL at it";

function iommufdImageIn(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const images = names.filter((n) => /^bzImage-.+-iommufd$/.test(n)).sort((a, b) => compareVersions(a.slice(8), b.slice(8)));
  const last = images[images.length - 1];
  return last === undefined ? undefined : join(dir, last);
}

/**
 * Finds the iommufd kernel (see the top of this file), or throws saying where
 * it looked and how to build one.
 */
export function findIommufdKernel(env: NodeJS.ProcessEnv = process.env, from = dirname(fileURLToPath(import.meta.url))): KernelInfo {
  const given = env.VFIO_TS_VM_IOMMUFD_KERNEL;
  let image: string | undefined;
  if (given !== undefined && given !== '') {
    const isDir = existsSync(given) && statSync(given).isDirectory();
    image = isDir ? iommufdImageIn(given) : existsSync(given) ? given : undefined;
    if (image === undefined)
      throw new Error(`VFIO_TS_VM_IOMMUFD_KERNEL=${given}: no bzImage-<version>-iommufd there; ${IOMMUFD_KERNEL_HOWTO}`);
  } else {
    for (let dir = from; image === undefined; dir = dirname(dir)) {
      image = iommufdImageIn(join(dir, 'shared', 'kernels'));
      if (dirname(dir) === dir) break;
    }
    if (image === undefined)
      throw new Error(`no iommufd kernel (shared/kernels/bzImage-<version>-iommufd above ${from}); ${IOMMUFD_KERNEL_HOWTO}`);
  }
  const m = /bzImage-(.+)$/.exec(image);
  return { version: m ? m[1]! : 'iommufd', image, modulesDir: null };
}

/** Kernel module file suffixes, the compressed ones needing host-side decompression. */
export const MODULE_SUFFIXES = ['.ko', '.ko.xz', '.ko.zst', '.ko.gz'] as const;

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Finds the kernel to boot: VFIO_TS_VM_KERNEL_VERSION if set, otherwise the
 * newest version that has both /boot/vmlinuz-<v> and /lib/modules/<v>/modules.dep.
 * Throws with a reason when there is none.
 */
export function findKernel(
  env: NodeJS.ProcessEnv = process.env,
  bootDir = '/boot',
  modulesRoot = '/lib/modules',
): KernelInfo & { modulesDir: string } {
  const wanted = env.VFIO_TS_VM_KERNEL_VERSION;
  let versions: string[];
  try {
    versions = readdirSync(modulesRoot);
  } catch {
    throw new Error(`no ${modulesRoot} (install linux-image-amd64)`);
  }
  const usable = versions
    .filter((v) => existsSync(join(bootDir, `vmlinuz-${v}`)) && existsSync(join(modulesRoot, v, 'modules.dep')))
    .sort(compareVersions);
  if (wanted !== undefined && wanted !== '') {
    if (!usable.includes(wanted))
      throw new Error(`VFIO_TS_VM_KERNEL_VERSION=${wanted}: no ${bootDir}/vmlinuz-${wanted} with ${modulesRoot}/${wanted}/modules.dep`);
    versions = [wanted];
  } else {
    versions = usable;
  }
  const version = versions[versions.length - 1];
  if (version === undefined)
    throw new Error(`no kernel with both ${bootDir}/vmlinuz-<v> and ${modulesRoot}/<v>/modules.dep (install linux-image-amd64)`);
  return { version, image: join(bootDir, `vmlinuz-${version}`), modulesDir: join(modulesRoot, version) };
}

/**
 * The value of CONFIG_<name> ("y", "m", a string) in the kernel's .config,
 * found beside its image as config-<version> (Debian's /boot/config-<v>, the
 * iommufd kernel's folder); "n" when the config says it is not set, undefined
 * when there is no config to read.
 */
export function kernelConfigOption(kernel: KernelInfo, name: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dirname(kernel.image), `config-${kernel.version}`), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line === `# CONFIG_${name} is not set`) return 'n';
    if (line.startsWith(`CONFIG_${name}=`)) return line.slice(name.length + 8);
  }
  return 'n';
}

/** "vfio-pci", "vfio_pci.ko.xz", "kernel/drivers/vfio/pci/vfio-pci.ko" -> "vfio_pci". */
export function moduleName(pathOrName: string): string {
  let base = pathOrName.slice(pathOrName.lastIndexOf('/') + 1);
  for (const suffix of MODULE_SUFFIXES) {
    if (base.endsWith(suffix)) {
      base = base.slice(0, -suffix.length);
      break;
    }
  }
  return base.replace(/-/g, '_');
}

export interface ModuleIndex {
  /** module name -> path relative to the modules dir */
  files: Map<string, string>;
  /** module name -> names of the modules it depends on (as modules.dep lists them) */
  deps: Map<string, string[]>;
  /** names of modules built into the image */
  builtin: Set<string>;
}

/** Parses modules.dep and modules.builtin. */
export function readModuleIndex(modulesDir: string): ModuleIndex {
  const files = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const file = line.slice(0, colon).trim();
    const name = moduleName(file);
    files.set(name, file);
    deps.set(
      name,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter((d) => d !== '')
        .map(moduleName),
    );
  }
  const builtin = new Set<string>();
  const builtinFile = join(modulesDir, 'modules.builtin');
  if (existsSync(builtinFile)) {
    for (const line of readFileSync(builtinFile, 'utf8').split('\n')) {
      if (line.trim() !== '') builtin.add(moduleName(line.trim()));
    }
  }
  return { files, deps, builtin };
}

/**
 * The modules to load, dependencies first, for the requested names. Built-in
 * modules are left out; a name that is neither a module nor built in throws.
 */
export function resolveModules(index: ModuleIndex, wanted: readonly string[]): { name: string; file: string }[] {
  const order: { name: string; file: string }[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (raw: string, from: string | undefined): void => {
    const name = moduleName(raw);
    if (done.has(name)) return;
    if (index.builtin.has(name) && !index.files.has(name)) {
      done.add(name);
      return;
    }
    const file = index.files.get(name);
    if (file === undefined)
      throw new Error(`kernel module ${raw}${from ? ` (needed by ${from})` : ''} is neither in modules.dep nor built in`);
    if (visiting.has(name)) throw new Error(`module dependency cycle at ${name}`);
    visiting.add(name);
    for (const dep of index.deps.get(name) ?? []) visit(dep, name);
    visiting.delete(name);
    done.add(name);
    order.push({ name, file });
  };
  for (const w of wanted) visit(w, undefined);
  return order;
}

const PT_NOTE = 4;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** True when buf is an x86-64 ELF image with a PVH entry point (the "Xen" note 18), which QEMU boots directly. */
export function hasPvhEntry(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false;
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > buf.length || buf.readUInt32LE(ph) !== PT_NOTE) continue;
    const off = Number(buf.readBigUInt64LE(ph + 8));
    const end = Math.min(buf.length, off + Number(buf.readBigUInt64LE(ph + 32)));
    let p = off;
    while (p + 12 <= end) {
      const namesz = buf.readUInt32LE(p);
      const descsz = buf.readUInt32LE(p + 4);
      const type = buf.readUInt32LE(p + 8);
      const name = buf.toString('latin1', p + 12, p + 12 + Math.max(0, namesz - 1));
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      p += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
  return false;
}

/**
 * The uncompressed kernel (vmlinux) inside a bzImage, when it was compressed
 * with xz or zstd (the decompressor tools are run on the host) or gzip; undefined
 * when it cannot be found. Under TCG the kernel's own decompressor takes
 * seconds; QEMU boots a vmlinux that has a PVH entry without it.
 */
export function extractVmlinux(bzImage: Buffer): Buffer | undefined {
  const formats: { magic: Buffer; decompress: (b: Buffer) => Buffer }[] = [
    {
      magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
      decompress: (b) =>
        execFileSync('xz', ['-dc', '--single-stream'], { input: b, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'ignore'] }),
    },
    {
      magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
      decompress: (b) => execFileSync('zstd', ['-dcq'], { input: b, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'ignore'] }),
    },
    { magic: Buffer.from([0x1f, 0x8b, 0x08]), decompress: (b) => gunzipSync(b) },
  ];
  for (const f of formats) {
    let at = bzImage.indexOf(f.magic);
    while (at >= 0) {
      try {
        const out = f.decompress(bzImage.subarray(at));
        if (hasPvhEntry(out)) return out;
      } catch {
        // not a stream here, or no tool: try the next candidate
      }
      at = bzImage.indexOf(f.magic, at + 1);
      if (at > 1 << 16) break; // the payload starts within the first few KiB of setup code
    }
  }
  return undefined;
}

/**
 * Path of a cached vmlinux for the kernel, extracted once into
 * <cacheRoot>/vfio-ts-vm-<version>-vmlinux-<hash of the bzImage>/vmlinux;
 * undefined when the image holds no PVH-bootable vmlinux that can be extracted
 * here (the caller then boots the bzImage).
 */
export function ensureVmlinux(kernel: KernelInfo, cacheRoot: string): string | undefined {
  const image = readFileSync(kernel.image);
  const digest = createHash('sha256').update(image).digest('hex').slice(0, 16);
  const dir = join(cacheRoot, `vfio-ts-vm-${kernel.version}-vmlinux-${digest}`);
  const path = join(dir, 'vmlinux');
  if (existsSync(path)) return path;
  const vmlinux = extractVmlinux(image);
  if (vmlinux === undefined) return undefined;
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, vmlinux);
  renameSync(tmp, path);
  return path;
}
