// The API reference (TypeDoc, typedoc.json, `npm run docs` into docs/api/)
// covers every entry of package.json `exports`, and no public export goes
// undocumented: every declaration an entry point exports (into namespaces such
// as `errors` too) carries a doc comment. Members of classes and interfaces are
// not required here; the export itself must say what it is and why.
// The second test shows the check is live on a project with an export bare.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Application, type DeclarationReflection, type ProjectReflection, ReferenceReflection, ReflectionKind } from 'typedoc';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/docs -> checkout

async function convert(cwd: string, options: Record<string, unknown> = {}): Promise<ProjectReflection> {
  const app = await Application.bootstrap({ options: join(cwd, 'typedoc.json'), logLevel: 'Error', ...options });
  const project = await app.convert();
  assert.ok(project, 'TypeDoc converted the project');
  return project;
}

function hasComment(reflection: DeclarationReflection): boolean {
  // A re-export (`export * as errors`, an entry re-exporting another's) is documented where it is declared.
  const target = reflection instanceof ReferenceReflection ? reflection.getTargetReflectionDeep() : reflection;
  const r = target as DeclarationReflection;
  const sigs = r.signatures ?? r.getAllSignatures();
  return Boolean(r.comment?.summary.length || r.comment?.blockTags.length || sigs.some((s) => s.comment?.summary.length));
}

/** `module.name` of every exported declaration without a doc comment, namespaces walked. */
function undocumented(project: ProjectReflection): string[] {
  const out: string[] = [];
  const walk = (r: DeclarationReflection, path: string) => {
    if (!hasComment(r)) out.push(`${path} (${ReflectionKind.singularString(r.kind)})`);
    if (r.kindOf(ReflectionKind.Namespace)) for (const c of r.children ?? []) walk(c, `${path}.${c.name}`);
  };
  for (const mod of project.children ?? []) {
    walk(mod, mod.name);
    for (const c of mod.children ?? []) walk(c, `${mod.name}.${c.name}`);
  }
  return out;
}

test('typedoc.json documents exactly the entries of package.json exports', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string }> };
  const td = JSON.parse(readFileSync(join(ROOT, 'typedoc.json'), 'utf8')) as { entryPoints: string[]; out: string };
  const fromExports = Object.values(pkg.exports)
    .flatMap((e) => (typeof e === 'object' && e.types ? [e.types.replace('./dist/', 'src/').replace(/\.d\.ts$/, '.ts')] : []))
    .sort();
  assert.deepEqual([...td.entryPoints].sort(), fromExports);
  assert.equal(td.out, 'docs/api');
  assert.match(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^\/?docs\/api\/?$/m, 'docs/api/ is a build output');
});

test('every export of every entry point has a doc comment', { timeout: 120_000 }, async () => {
  const project = await convert(ROOT);
  const names = (project.children ?? []).map((m) => m.name).sort();
  assert.ok(names.includes('vfio-ts') && names.includes('vfio-ts/server'), `modules named for their entries: ${names}`);
  const missing = undocumented(project);
  assert.deepEqual(missing, [], `exports without a doc comment (say what it is and why):\n${missing.join('\n')}`);
});

test('the check reports an export that has no doc comment', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-typedoc-'));
  try {
    writeFileSync(
      join(dir, 'entry.ts'),
      '/** The entry. @module probe */\n/** Said. */\nexport const said = 1;\nexport function bare(): void {}\nexport * as ns from "./ns.js";\n',
    );
    writeFileSync(join(dir, 'ns.ts'), 'export class Hidden {}\n');
    // A second entry, so that the project has modules as the real one does.
    writeFileSync(join(dir, 'other.ts'), '/** Other. @module other */\n/** Said. */\nexport const x = 2;\n');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', strict: true }, files: ['entry.ts', 'other.ts'] }),
    );
    writeFileSync(
      join(dir, 'typedoc.json'),
      JSON.stringify({ entryPoints: [join(dir, 'entry.ts'), join(dir, 'other.ts')], tsconfig: join(dir, 'tsconfig.json') }),
    );
    const missing = undocumented(await convert(dir));
    assert.deepEqual(missing.sort(), ['probe.bare (Function)', 'probe.ns (Namespace)', 'probe.ns.Hidden (Class)']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
