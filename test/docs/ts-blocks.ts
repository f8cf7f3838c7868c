// Type-checks TypeScript code blocks as a user of the package would write them:
// `strict`, ES modules, and imports resolved through the package's
// self-reference ('vfio-ts', 'vfio-ts/server', ...: package.json `exports`,
// hence dist/*.d.ts). All blocks go into one program, each its own virtual
// module at the checkout's root, so the declarations are read once.

import { builtinModules } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import { type CodeBlock, where } from './markdown-blocks.js';

/** Repository tools that are not part of the package, importable by a path from the checkout's root. */
const REPO_TOOLS = /^\.\/(vm|bench)\//;

export interface BlockProblem {
  at: string;
  message: string;
}

/** The import specifiers a block may use: a package entry, a Node builtin, or a repository tool. */
export function importProblem(spec: string, entries: Set<string>): string | undefined {
  if (entries.has(spec) || REPO_TOOLS.test(spec)) return undefined;
  if (spec.startsWith('node:') || builtinModules.includes(spec)) return undefined;
  return `imports '${spec}', which is not an entry of the package (see package.json exports)`;
}

/** The package's entry specifiers, from its `exports` map. */
export function packageEntries(pkg: { name: string; exports: Record<string, unknown> }): Set<string> {
  return new Set(
    Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`)),
  );
}

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
  noEmit: true,
  skipLibCheck: true,
};

/** Every problem of every block: a forbidden import, or a compiler diagnostic, each at its markdown line. */
export function checkTsBlocks(root: string, blocks: CodeBlock[], entries: Set<string>): BlockProblem[] {
  const problems: BlockProblem[] = [];
  const virtual = new Map<string, CodeBlock>();
  blocks.forEach((b, i) => {
    // `export {}` makes a block with no import a module too, so blocks never share globals.
    virtual.set(join(root, `__doc_block_${i}__.ts`), b);
  });
  const host = ts.createCompilerHost(OPTIONS);
  const text = (f: string) => {
    const b = virtual.get(f);
    return b ? `${b.body}\nexport {};\n` : undefined;
  };
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => text(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const t = text(f);
    return t === undefined ? getSourceFile.call(host, f, lang, ...rest) : ts.createSourceFile(f, t, lang);
  };
  const program = ts.createProgram([...virtual.keys()], OPTIONS, host);
  for (const d of program.getGlobalDiagnostics()) {
    problems.push({ at: 'compiler', message: ts.flattenDiagnosticMessageText(d.messageText, '\n') });
  }
  for (const [f, b] of virtual) {
    const sf = program.getSourceFile(f)!;
    for (const stmt of sf.statements) {
      if (ts.isImportDeclaration(stmt) || (ts.isExportDeclaration(stmt) && stmt.moduleSpecifier)) {
        const spec = (stmt.moduleSpecifier as ts.StringLiteral).text;
        const bad = importProblem(spec, entries);
        if (bad) problems.push({ at: where(b, sf.getLineAndCharacterOfPosition(stmt.getStart(sf)).line), message: bad });
      }
    }
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? undefined : sf.getLineAndCharacterOfPosition(d.start).line;
      problems.push({ at: where(b, line), message: `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}` });
    }
  }
  return problems;
}
