// Fenced code blocks of the project's markdown (README.md and docs/*.md), with
// where each one starts, so that a failing block can be named by file and line.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CodeBlock {
  /** Path relative to the checkout, e.g. `docs/cli.md`. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word (`ts`, `sh`, ...), '' when there is none. */
  lang: string;
  body: string;
}

/** The markdown files whose blocks are checked. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** The fenced blocks (``` or ~~~, CommonMark's rule: closed by a fence of the same kind at least as long). */
export function extractBlocks(file: string, text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let open: { fence: string; line: number; lang: string; body: string[] } | undefined;
  text.split('\n').forEach((l, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(l);
    if (open) {
      if (m && m[1]![0] === open.fence[0] && m[1]!.length >= open.fence.length && m[2]!.trim() === '') {
        blocks.push({ file, line: open.line, lang: open.lang, body: open.body.join('\n') });
        open = undefined;
      } else {
        open.body.push(l);
      }
    } else if (m) {
      open = { fence: m[1]!, line: i + 1, lang: m[2]!.trim().split(/\s+/)[0] ?? '', body: [] };
    }
  });
  if (open) blocks.push({ file, line: open.line, lang: 'unclosed', body: open.body.join('\n') });
  return blocks;
}

export function allBlocks(root: string): CodeBlock[] {
  return docFiles(root).flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
}

/** `file:line` of a block, or of a line inside it (0-based within the body). */
export function where(block: CodeBlock, bodyLine?: number): string {
  return `${block.file}:${bodyLine === undefined ? block.line : block.line + 1 + bodyLine}`;
}
