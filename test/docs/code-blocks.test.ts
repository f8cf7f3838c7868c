// Every fenced code block in README.md and docs/*.md is checked, so that none
// can rot. The rule, by info string:
//   ts, typescript  type-checked (strict, ES modules) against the package as a
//                   user sees it: imports only from the package's entries
//                   (package.json `exports`, through dist/), Node builtins, or
//                   a repository tool by a path from the checkout ('./vm/...').
//                   A block names what it assumes with `declare`.
//   sh, bash        every line: `vfio-ts <command> --options` must exist (the
//                   command's own --help), `npm run <script>` must be a script,
//                   `node out|dist/X.js` must have a source. `#` starts a
//                   comment; an indented line continues a synopsis line.
//   console         the same for the lines after a `$ ` prompt; the rest is output.
//   json            must parse.
//   text            exempt: diagrams, tables, sample output.
// A block with no info string, or any other, fails: say what it is.
// The last test shows each check is live on a document with broken blocks.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureDist } from './dist.js';
import { allBlocks, type CodeBlock, extractBlocks, where } from './markdown-blocks.js';
import { type CliGrammar, checkShellBlocks, readCliGrammar } from './shell-blocks.js';
import { type BlockProblem, checkTsBlocks, packageEntries } from './ts-blocks.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/docs -> checkout
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
  scripts: Record<string, string>;
};
const ENTRIES = packageEntries(PKG);
const KINDS = new Set(['ts', 'typescript', 'sh', 'bash', 'console', 'json', 'text']);

function checkAll(blocks: CodeBlock[], cli: CliGrammar): BlockProblem[] {
  const of = (...langs: string[]) => blocks.filter((b) => langs.includes(b.lang));
  const problems: BlockProblem[] = blocks
    .filter((b) => !KINDS.has(b.lang))
    .map((b) => ({ at: where(b), message: `info string '${b.lang}': give the block one of ${[...KINDS].join(', ')}` }));
  for (const b of of('json')) {
    try {
      JSON.parse(b.body);
    } catch (err) {
      problems.push({ at: where(b), message: `json does not parse: ${(err as Error).message}` });
    }
  }
  problems.push(...checkShellBlocks(ROOT, of('sh', 'bash', 'console'), cli, PKG.scripts));
  problems.push(...checkTsBlocks(ROOT, of('ts', 'typescript'), ENTRIES));
  return problems;
}

const report = (ps: BlockProblem[]) => ps.map((p) => `${p.at}: ${p.message}`).join('\n');

let cli: CliGrammar;
before(() => {
  ensureDist(ROOT);
  cli = readCliGrammar(join(ROOT, 'dist', 'cli', 'main.js'));
});

test('every code block of README.md and docs/*.md passes its check', { timeout: 240_000 }, () => {
  const blocks = allBlocks(ROOT);
  assert.ok(blocks.filter((b) => b.lang === 'ts').length >= 10, 'the TypeScript blocks were found');
  const problems = checkAll(blocks, cli);
  assert.equal(problems.length, 0, `broken code blocks:\n${report(problems)}`);
});

test('a document with broken blocks has each one reported at its line', { timeout: 240_000 }, () => {
  const doc = [
    '# broken', //                                      1
    '```ts', //                                         2
    "import { VfioUserServer } from 'vfio-ts/server';", // 3
    "const n: number = 'one';", //                      4
    'VfioUserServer.listen(n);', //                     5
    '```', //                                           6
    '```ts', //                                         7
    "import { Device } from 'vfio-ts/dist/client/device.js';", // 8
    '```', //                                           9
    '```sh', //                                         10
    'vfio-ts serve edu --socket /tmp/x.sock --frobnicate   # an option serve lacks', // 11
    'vfio-ts frobnicate', //                            12
    'npm run no-such-script', //                        13
    'node out/no/such.js', //                           14
    '```', //                                           15
    '```json', //                                       16
    '{ "a": 1, }', //                                   17
    '```', //                                           18
    '```', //                                           19
    'what is this?', //                                 20
    '```', //                                           21
    '```text', //                                       22
    'vfio-ts frobnicate: text is exempt', //            23
    '```', //                                           24
  ].join('\n');
  const problems = checkAll(extractBlocks('broken.md', doc), cli);
  const at = (line: number, re: RegExp) =>
    assert.ok(
      problems.some((p) => p.at === `broken.md:${line}` && re.test(p.message)),
      `broken.md:${line} ${re} in:\n${report(problems)}`,
    );
  at(4, /TS2322/); // a string is not a number
  at(5, /TS2554|TS2345/); // listen wants a path and a model
  at(8, /not an entry of the package/);
  at(11, /--frobnicate: not an option of serve/);
  at(12, /no such command/);
  at(13, /no script 'no-such-script'/);
  at(14, /no source no\/such\.ts/);
  at(16, /json does not parse/);
  at(19, /info string ''/);
  assert.ok(!problems.some((p) => p.at === 'broken.md:23'), 'a text block is not checked');
  assert.equal(problems.filter((p) => p.at === 'broken.md:3').length, 0, 'a good import passes');
});
