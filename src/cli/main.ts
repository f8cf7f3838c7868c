#!/usr/bin/env node
// The vfio-ts command: `vfio-ts <command> [options]`, one file per command
// under commands/. Exit status: 0 success, 1 failure, 2 bad usage (a
// UsageError, printed with the command's usage line); a server command keeps
// running until a signal and exits on its own.

import { readFileSync } from 'node:fs';
import { bindCommand, unbindCommand } from './commands/bind.js';
import { brokerCommand } from './commands/broker.js';
import { demoCommand } from './commands/demo.js';
import { lspciCommand } from './commands/lspci.js';
import { serveCommand } from './commands/serve.js';
import { traceCommand } from './commands/trace.js';
import { watchCommand } from './commands/watch.js';
import { explain } from './errors.js';
import { parseCommand, UsageError, type Subcommand } from './usage.js';

const COMMANDS: Subcommand[] = [
  demoCommand,
  serveCommand,
  lspciCommand,
  traceCommand,
  watchCommand,
  brokerCommand,
  bindCommand,
  unbindCommand,
];

const USAGE = `usage: vfio-ts <command> [options]      (vfio-ts <command> --help for its options)

commands:
${COMMANDS.map((c) => `  ${c.summary}`).join('\n')}
  help                                    this text (--version: the version)

The benchmarks are not part of the command: in a clone of the repository, npm run bench.`;

/** The package's version, from the nearest package.json above this file named vfio-ts (dist/ in the package, out/src/ in a clone). */
function version(): string {
  for (let dir = new URL('.', import.meta.url); ; ) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vfio-ts' && pkg.version) return pkg.version;
    } catch {
      // not here
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) return 'unknown';
    dir = up;
  }
}

/** The first line of a command's help: its usage. */
function usageLine(cmd: Subcommand): string {
  return cmd.help.split('\n\n')[0]!;
}

async function main(argv: string[]): Promise<number | 'running'> {
  const [name = 'demo', ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    console.log(version());
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`vfio-ts: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const args = parseCommand(cmd, rest);
    if (args === 'help') {
      console.log(cmd.help);
      return 0;
    }
    return await cmd.run(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(err.grammar ? `vfio-ts: ${err.message}\n${usageLine(cmd)}   (vfio-ts ${cmd.name} --help)` : `vfio-ts: ${err.message}`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 'running') process.exitCode = code;
  },
  (err: unknown) => {
    console.error(explain(err));
    process.exitCode = 1;
  },
);
