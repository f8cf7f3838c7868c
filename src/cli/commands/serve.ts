// `vfio-ts serve`: the grammar; serve.ts does the serving.

import * as opt from '../options.js';
import { MODELS, serve } from '../serve.js';
import { UsageError, type Subcommand } from '../usage.js';

export const serveCommand: Subcommand = {
  name: 'serve',
  summary: `serve <model> --socket PATH [options]   serve a device model (${Object.keys(MODELS).join(', ')}) until a signal`,
  help: `usage: vfio-ts serve <model> --socket PATH [options]

Serves a device model over vfio-user on PATH, and its decoded traffic on PATH.trace
(for vfio-ts trace), until SIGINT, SIGTERM or SIGHUP: then the owner is asked to
release the device (REQ) and given 2 s; a second signal ends at once.

models:
${Object.entries(MODELS)
  .map(([n, m]) => `  ${n.padEnd(6)} ${m.describe}`)
  .join('\n')}

options:
  --socket PATH        the vfio-user socket to create
  --allow-uid USER     let this user connect (a name or uid; repeatable)
  --allow-gid GROUP    let this group connect (a name or gid; repeatable)
  --mode OCTAL         the socket's permission bits, 000..777 (default: 0666 with
                       --allow-uid/--allow-gid, the allow-list being the gate; else by umask)
  --linger-us N        how long a session waits for its client's next message
                       before returning to the event loop, 0..1000000 (default 1000)
nvme only:
  --backing FILE       keep the namespace in FILE (created if missing) instead of memory
  --size BYTES         namespace size, whole 512-byte blocks, K/M/G/T suffixes (default 64M,
                       or the size of an existing FILE)
  --resize             allow growing or shrinking an existing FILE to --size`,
  options: {
    socket: { type: 'string' },
    backing: { type: 'string' },
    size: { type: 'string' },
    resize: { type: 'boolean' },
    'allow-uid': { type: 'string', multiple: true },
    'allow-gid': { type: 'string', multiple: true },
    mode: { type: 'string' },
    'linger-us': { type: 'string' },
  },
  positionals: { names: ['<model>'], required: 1 },
  async run({ values: v, positionals: [model] }) {
    if (v.socket === undefined) throw new UsageError('serve needs --socket PATH', { grammar: true });
    const allowUids = (v['allow-uid'] as string[] | undefined)?.map((u) => opt.user(u, '--allow-uid'));
    const allowGids = (v['allow-gid'] as string[] | undefined)?.map((g) => opt.group(g, '--allow-gid'));
    let socketMode = v.mode === undefined ? undefined : opt.socketMode(v.mode as string, '--mode');
    // With an allow-list the server's credential check is the gate: the file mode must not refuse the users it allows.
    if (socketMode === undefined && (allowUids || allowGids)) socketMode = 0o666;
    await serve(
      model!,
      opt.path(v.socket as string, '--socket'),
      {
        ...(v.backing !== undefined ? { backing: opt.path(v.backing as string, '--backing') } : {}),
        ...(v.size !== undefined ? { size: opt.bytes(v.size as string, '--size') } : {}),
        ...(v.resize ? { resize: true } : {}),
      },
      {
        ...(allowUids ? { allowUids } : {}),
        ...(allowGids ? { allowGids } : {}),
        ...(socketMode !== undefined ? { socketMode } : {}),
        ...(v['linger-us'] !== undefined ? { lingerUs: opt.integer(v['linger-us'] as string, '--linger-us', 1_000_000) } : {}),
      },
    );
    return 'running';
  },
};
