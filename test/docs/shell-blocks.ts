// Checks the command lines of shell blocks: each `vfio-ts <command>` (also
// after npx or sudo) names a command that exists, with only options its
// --help lists; each `npm run <script>` (and `npm start` / `npm test`) names a
// script of package.json; each `node out/X.js` / `node dist/X.js` names a file
// the build makes from a source. Options after `npm run x --` belong to the
// script and are not checked here.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CodeBlock, where } from './markdown-blocks.js';
import type { BlockProblem } from './ts-blocks.js';

/** What the command accepts: each command's options (from its --help), and the root's own. */
export interface CliGrammar {
  commands: Map<string, Set<string>>;
  rootOptions: Set<string>;
}

function run(mainJs: string, args: string[]): string {
  const r = spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`vfio-ts ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Reads the grammar from the command itself: `vfio-ts help`, then `vfio-ts <command> --help` for each. */
export function readCliGrammar(mainJs: string): CliGrammar {
  const list = run(mainJs, ['help']).split('\ncommands:\n')[1] ?? '';
  const names = [...list.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!);
  const commands = new Map<string, Set<string>>();
  for (const name of names) {
    const help = name === 'help' ? '' : run(mainJs, [name, '--help']);
    commands.set(name, new Set(['--help', ...(help.match(/--[a-z][a-z0-9-]*/g) ?? [])]));
  }
  return { commands, rootOptions: new Set(['--help', '--version']) };
}

const NPM_BUILTINS = new Set(['install', 'ci', 'pack', 'exec']);

/**
 * The command lines of a block. sh/bash: every line, `#` starting a comment, and
 * an indented line continuing the one above (as in a usage synopsis).
 * console: only the lines after a `$ ` prompt; the rest is output.
 */
export function commandLines(block: CodeBlock): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  block.body.split('\n').forEach((raw, i) => {
    let l = raw;
    if (block.lang === 'console') {
      if (!l.startsWith('$ ')) return;
      l = l.slice(2);
    }
    l = l.replace(/(^|\s)#.*$/, '');
    if (/^\s/.test(l) && out.length > 0 && block.lang !== 'console') out[out.length - 1]!.text += ` ${l.trim()}`;
    else if (l.trim() !== '') out.push({ line: i, text: l.trim() });
  });
  return out;
}

export function checkShellBlocks(root: string, blocks: CodeBlock[], cli: CliGrammar, scripts: Record<string, string>): BlockProblem[] {
  const problems: BlockProblem[] = [];
  for (const b of blocks) {
    for (const { line, text } of commandLines(b)) {
      const at = where(b, line);
      for (const segment of text.split(/;|&&|\|\||\|/)) {
        const words = segment.trim().split(/\s+/);
        const v = words.indexOf('vfio-ts');
        if (v >= 0) problems.push(...checkVfioTs(at, words.slice(v + 1), cli));
        const n = words.indexOf('npm');
        if (n >= 0) {
          const [verb = '', script = ''] = words.slice(n + 1);
          const name = verb === 'run' ? script : verb;
          if (verb === 'run' || verb === 'start' || verb === 'test') {
            if (!(name in scripts))
              problems.push({ at, message: `npm ${verb === 'run' ? 'run ' : ''}${name}: package.json has no script '${name}'` });
          } else if (!NPM_BUILTINS.has(verb)) {
            problems.push({ at, message: `npm ${verb}: not a script invocation this check knows` });
          }
        }
        for (const m of segment.matchAll(/(?:^|\s)(out|dist)\/([\w./-]+)/g)) {
          const source = m[1] === 'out' ? m[2]! : `src/${m[2]!}`;
          const ts = source.endsWith('.js') ? source.replace(/\.js$/, '.ts') : source.replace(/\/$/, '');
          if (!existsSync(join(root, ts))) problems.push({ at, message: `${m[1]}/${m[2]}: no source ${ts} builds it` });
        }
      }
    }
  }
  return problems;
}

function checkVfioTs(at: string, args: string[], cli: CliGrammar): BlockProblem[] {
  const [first = ''] = args;
  const options = (from: string[]) => from.flatMap((w) => w.match(/--[a-z][a-z0-9-]*/g) ?? []);
  if (first === '' || first.startsWith('-')) {
    return options(args)
      .filter((o) => !cli.rootOptions.has(o))
      .map((o) => ({ at, message: `vfio-ts ${o}: not an option of the command (it takes ${[...cli.rootOptions].join(', ')})` }));
  }
  // A placeholder (`vfio-ts <command> --help`): the options must suit every command.
  const names = first.startsWith('<') ? [...cli.commands.keys()].filter((c) => c !== 'help') : [first];
  const problems: BlockProblem[] = [];
  for (const name of names) {
    const accepted = cli.commands.get(name);
    if (!accepted) {
      problems.push({ at, message: `vfio-ts ${name}: no such command (there are ${[...cli.commands.keys()].join(', ')})` });
      continue;
    }
    for (const o of options(args.slice(1))) {
      if (!accepted.has(o))
        problems.push({ at, message: `vfio-ts ${name} ${o}: not an option of ${name} (its --help lists ${[...accepted].join(' ')})` });
    }
  }
  return problems;
}
