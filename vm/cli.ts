// `node out/vm/cli.js [options] -- COMMAND [ARGS...]`: runs a command in a
// fresh test guest (vm/harness.ts) and forwards its stdout, stderr and exit
// code. A guest that cannot boot exits 125, one that runs out of time 124 (as
// timeout(1)); both print the console's tail on stderr. `--prepare` only builds
// the cached guest files and prints where they are.

import { parseArgs } from 'node:util';
import { GuestError, guestAvailable, killAllGuests, prepareGuest, runInGuest } from './harness.js';
import { kernelCommandLine } from './qemu.js';

const USAGE = `usage: node out/vm/cli.js [options] -- COMMAND [ARGS...]
Runs COMMAND in a QEMU guest with edu and nvme bound to vfio-pci, as an
unprivileged user, in the host's root (read-only), in the current directory.

options:
  --timeout SECONDS   whole run, boot included (default VFIO_TS_VM_TIMEOUT or 1800)
  --root              run as root instead of uid/gid 1000
  --kernel KIND       default (the host's Debian kernel) or iommufd (Linux 6.12 with
                      iommufd and the vfio cdev; vm/build-iommufd-kernel.sh builds it)
  --uid N, --gid N    the unprivileged user (default 1000:1000)
  --cwd DIR           working directory in the guest (default: the current one)
  --env NAME=VALUE    add to the command's environment (repeatable)
  --keep              keep the job directory (also VFIO_TS_VM_KEEP=1)
  --verbose           copy the guest's serial console to stderr (also VFIO_TS_VM_VERBOSE=1)
  --append WORD       add WORD to the kernel command line (repeatable), e.g. loglevel=7
  --qemu-arg ARG      add ARG to QEMU's command line (repeatable)
  --quiet             no summary line on stderr
  --prepare           build the cached kernel/initramfs/disk, print their paths, exit
`;

function fail(msg: string, code = 2): never {
  process.stderr.write(`vfio-ts-vm: ${msg}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        timeout: { type: 'string' },
        root: { type: 'boolean' },
        kernel: { type: 'string' },
        uid: { type: 'string' },
        gid: { type: 'string' },
        cwd: { type: 'string' },
        env: { type: 'string', multiple: true },
        keep: { type: 'boolean' },
        verbose: { type: 'boolean' },
        append: { type: 'string', multiple: true },
        'qemu-arg': { type: 'string', multiple: true },
        quiet: { type: 'boolean' },
        prepare: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  const { values: o, positionals: command } = parsed;
  if (o.help) {
    process.stdout.write(USAGE);
    return;
  }
  const kernel = o.kernel ?? 'default';
  if (kernel !== 'default' && kernel !== 'iommufd') fail(`--kernel must be default or iommufd, not ${kernel}`);
  const avail = guestAvailable(kernel);
  if (!avail.ok) fail(`no test guest here: ${avail.reason}`, 125);
  if (o.prepare) {
    const g = prepareGuest(kernel);
    process.stdout.write(
      [
        `kernel     ${g.bootImage}`,
        `initramfs  ${g.initramfs}`,
        `disk       ${g.disk}`,
        `modules    ${g.modules.join(' ')}`,
        `cmdline    ${kernelCommandLine()}`,
        '',
      ].join('\n'),
    );
    return;
  }
  if (command.length === 0) fail(`no command\n${USAGE}`);

  const env: Record<string, string> = {};
  for (const kv of o.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`--env wants NAME=VALUE, not ${kv}`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const int = (s: string | undefined, what: string): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0) fail(`bad ${what}: ${s}`);
    return n;
  };
  const timeoutS = int(o.timeout ?? process.env.VFIO_TS_VM_TIMEOUT, '--timeout') ?? 1800;

  const onSignal = (sig: NodeJS.Signals, code: number): void => {
    process.on(sig, () => {
      killAllGuests();
      process.exit(code);
    });
  };
  onSignal('SIGINT', 130);
  onSignal('SIGTERM', 143);
  onSignal('SIGHUP', 129);

  const verbose = o.verbose === true || process.env.VFIO_TS_VM_VERBOSE === '1';
  try {
    const r = await runInGuest({
      command,
      cwd: o.cwd ?? process.cwd(),
      env,
      timeoutMs: timeoutS * 1000,
      asRoot: o.root === true,
      kernel,
      uid: int(o.uid, '--uid'),
      gid: int(o.gid, '--gid'),
      keep: o.keep === true || undefined,
      kernelArgs: o.append ?? [],
      qemuArgs: o['qemu-arg'] ?? [],
      onStdout: (b) => process.stdout.write(b),
      onStderr: (b) => process.stderr.write(b),
      // runInGuest itself copies the console when VFIO_TS_VM_VERBOSE=1
      onConsole: verbose && process.env.VFIO_TS_VM_VERBOSE !== '1' ? (b) => process.stderr.write(b) : undefined,
    });
    if (!o.quiet) {
      process.stderr.write(
        `vfio-ts-vm: exit ${r.exitCode}; guest booted in ${r.bootMs} ms, whole run ${r.totalMs} ms${r.jobDir ? `; job directory ${r.jobDir}` : ''}\n`,
      );
    }
    process.exitCode = r.exitCode;
  } catch (err) {
    if (err instanceof GuestError) fail(err.message, err.code === 'ETIMEDOUT' ? 124 : 125);
    throw err;
  }
}

await main();
