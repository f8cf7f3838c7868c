#!/usr/bin/env node
// The vfio-ts command.
//
//   vfio-ts [demo]                      the demo: a device model driven over vfio-user
//   vfio-ts serve <model> --socket P    serve a device model
//   vfio-ts broker <BDF> --socket P     serve a real device to unprivileged users
//   vfio-ts lspci <socket|BDF> [--dump|--perms] a device's config space, regions and IRQs
//   vfio-ts trace <socket> [--json]     live decoded traffic of a device served by vfio-ts serve
//   vfio-ts watch [BDF] [--json]       PCI devices added, removed, bound, unbound, live
//   vfio-ts bind <BDF> --user NAME      (root) bind to vfio-pci, give the group to NAME
//   vfio-ts unbind <BDF>                (root) give the device back to its driver

import { parseArgs } from 'node:util';
import { explain } from './errors.js';
import { lspciText } from './lspci.js';
import { openTarget } from './open.js';
import { MODELS, serve } from './serve.js';
import { bind, unbind } from '../kernel/bind.js';

const USAGE = `usage: vfio-ts <command> [options]

commands:
  demo                                   serve a device model and drive it over vfio-user (the default)
  serve <model> --socket PATH [--backing FILE] [--size N] [--allow-uid UID ...] [--allow-gid GID ...] [--mode OCTAL]
        [--linger-us N]                  serve a device model (${Object.keys(MODELS).join(', ')}) until SIGINT/SIGTERM
  lspci <socket|BDF> [--dump] [--perms]  a device's config space as its driver sees it, its regions and IRQs
                                         (--dump: the hex format 'lspci -F FILE' reads;
                                          --perms: probe which bits of each register are writable)
  broker <BDF> --socket PATH [--allow-uid UID ...] [--allow-gid GID ...] [--mode OCTAL] [--grace-ms N]
         [--max-dma-maps N] [--max-dma-bytes N] [--linger-us N] [--mmap] [--json]
                                         serve a real device (bound to vfio-pci) to unprivileged users; as root
  broker --upstream SOCKET --socket PATH ...   the same policy in front of a vfio-user device
  broker --config FILE [--json]          several devices, from a JSON file (see docs/broker.md)
  trace <socket> [--json]                follow a served device's traffic, decoded (from <socket>.trace; Ctrl-C ends)
  watch [BDF] [--json]                   print PCI device events live (added, removed, bound, unbound; Ctrl-C ends)
  bind <BDF> [--user NAME] [--group NAME]  (root) bind a device to vfio-pci and give its group file to a user
  unbind <BDF>                           (root) unbind a device from vfio-pci and let its own driver take it
  help                                   this text`;

async function main(argv: string[]): Promise<number> {
  const [command = 'demo', ...rest] = argv;
  switch (command) {
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    case 'demo': {
      const { demo } = await import('./demo.js');
      return demo();
    }
    case 'serve': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          socket: { type: 'string' },
          backing: { type: 'string' },
          size: { type: 'string' },
          'allow-uid': { type: 'string', multiple: true },
          'allow-gid': { type: 'string', multiple: true },
          mode: { type: 'string' },
          'linger-us': { type: 'string' },
        },
      });
      const model = positionals[0];
      if (!model || !values.socket) return usage('serve needs a model and --socket PATH');
      const ids = (xs: string[] | undefined): number[] | undefined => xs?.map((x) => toInt(x, 'uid/gid'));
      await serve(
        model,
        values.socket,
        { ...(values.backing ? { backing: values.backing } : {}), ...(values.size ? { size: toInt(values.size, '--size') } : {}) },
        {
          ...(values['allow-uid'] ? { allowUids: ids(values['allow-uid'])! } : {}),
          ...(values['allow-gid'] ? { allowGids: ids(values['allow-gid'])! } : {}),
          ...(values.mode ? { socketMode: parseInt(values.mode, 8) } : {}),
          ...(values['linger-us'] !== undefined ? { lingerUs: toInt(values['linger-us'], '--linger-us') } : {}),
        },
      );
      return -1; // keep running
    }
    case 'broker': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          socket: { type: 'string' },
          config: { type: 'string' },
          upstream: { type: 'string' },
          'allow-uid': { type: 'string', multiple: true },
          'allow-gid': { type: 'string', multiple: true },
          mode: { type: 'string' },
          'grace-ms': { type: 'string' },
          'max-dma-maps': { type: 'string' },
          'max-dma-bytes': { type: 'string' },
          mmap: { type: 'boolean' },
          json: { type: 'boolean' },
          'linger-us': { type: 'string' },
        },
      });
      if (positionals.length > 1) return usage('broker takes one PCI address (use --config for several devices)');
      const { brokerConfigFromArgs, runBroker } = await import('./broker.js');
      const ids = (xs: string[] | undefined): number[] | undefined => xs?.map((x) => toInt(x, 'uid/gid'));
      const num = (x: string | undefined, what: string): number | undefined => (x === undefined ? undefined : toInt(x, what));
      let configs;
      try {
        configs = brokerConfigFromArgs({
          bdf: positionals[0],
          config: values.config,
          upstream: values.upstream,
          socket: values.socket,
          allowUids: ids(values['allow-uid']),
          allowGids: ids(values['allow-gid']),
          socketMode: values.mode === undefined ? undefined : parseMode(values.mode),
          graceMs: num(values['grace-ms'], '--grace-ms'),
          maxDmaMaps: num(values['max-dma-maps'], '--max-dma-maps'),
          maxDmaBytes: num(values['max-dma-bytes'], '--max-dma-bytes'),
          mmap: values.mmap,
          lingerUs: num(values['linger-us'], '--linger-us'),
        });
      } catch (err) {
        return usage((err as Error).message);
      }
      runBroker(configs, { json: values.json ?? false });
      return -1; // keep running
    }
    case 'lspci': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { dump: { type: 'boolean' }, perms: { type: 'boolean' } },
      });
      const target = positionals[0];
      if (!target) return usage('lspci needs a socket path or a PCI address');
      if (values.dump && values.perms) return usage('lspci: --dump and --perms do not go together');
      const dev = openTarget(target, { map: false });
      try {
        process.stdout.write(lspciText(dev, { dump: values.dump ?? false }));
        if (values.perms) {
          const { formatPermissions, probePermissions } = await import('./perms.js');
          process.stdout.write('\n' + formatPermissions(probePermissions(dev)));
        }
      } finally {
        dev.close();
      }
      return 0;
    }
    case 'trace': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' } } });
      if (!positionals[0]) return usage('trace needs the socket path of a device served by vfio-ts serve');
      const { trace } = await import('./trace.js');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      return trace(positionals[0], { json: values.json ?? false, signal: ac.signal });
    }
    case 'watch': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' } } });
      if (positionals.length > 1) return usage('watch takes at most one PCI address');
      const { watch } = await import('./watch.js');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      return watch(positionals[0], { json: values.json ?? false, signal: ac.signal });
    }
    case 'bind': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { user: { type: 'string' }, group: { type: 'string' } },
      });
      if (!positionals[0]) return usage('bind needs a PCI address');
      const r = await bind(positionals[0], { ...(values.user ? { user: values.user } : {}), ...(values.group ? { group: values.group } : {}) });
      console.log(`${r.bdf}: bound to vfio-pci (was ${r.previousDriver ?? 'unbound'}), group ${r.group}: ${r.groupFile}`);
      return 0;
    }
    case 'unbind': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (!positionals[0]) return usage('unbind needs a PCI address');
      const r = unbind(positionals[0]);
      console.log(`${r.bdf}: unbound from ${r.previousDriver ?? 'no driver'}, now ${r.driver ?? 'without a driver'}`);
      return 0;
    }
    default:
      return usage(`unknown command '${command}'`);
  }
}

function toInt(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what}: '${s}' is not a non-negative integer`);
  return n;
}

function parseMode(s: string): number {
  if (!/^0?[0-7]{3}$/.test(s)) throw new Error(`--mode: '${s}' is not an octal mode like 0660`);
  return parseInt(s, 8);
}

function usage(problem: string): number {
  console.error(`vfio-ts: ${problem}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(explain(err));
    process.exitCode = 1;
  },
);
