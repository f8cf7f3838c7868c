// The error classes a user can catch (src/errors-all.ts, the root entry's
// `errors`): every error class of src is there, each is an Error subclass
// whose `name` is its class name, and each class's `code` is a closed union
// that its constructor enforces, so a code that is not a member (a typo, an
// errno Node does not know) is a compile error rather than a TypeError at
// run time. The union check compiles small probes against src with the
// TypeScript compiler API, each expected to pass or to fail.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as all from '../../src/errors-all.js';
import { errors } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/errors -> checkout

/** Error classes of src that are not for library callers, each with why. */
const PRIVATE: Record<string, string> = {
  UsageError: 'src/cli/usage.ts: the CLI turns it into exit code 2; it never reaches a library caller',
};

const CTX = { opcode: 0x02, qid: 1, cid: 7, command: 'Read' };

/** One instance of every class in errors-all, so that adding a class without a line here fails. */
const SAMPLES: Record<string, () => Error> = {
  VfioTsError: () => new all.VfioTsError('EIO', 'x'),
  SysError: () => new all.SysError('ioctl', 22),
  ErrnoError: () => new all.ErrnoError('EINVAL', 'x'),
  LayoutError: () => new all.LayoutError('overlap', 'x', 'ENOSPC'),
  PeerError: () => new all.PeerError(1, 22),
  StreamError: () => new all.StreamError('broken', 'x', undefined, []),
  VfioSetupError: () => new all.VfioSetupError('VFIO_NO_IOMMU', 'x', 'y'),
  DmaError: () => new all.DmaError('unmapped', 0x1000n, 8, 'x'),
  NvmeError: () => new all.NvmeError(0x0002 << 1, CTX), // SCT 0, SC 2: Invalid Field in Command
  NvmeTimeoutError: () => new all.NvmeTimeoutError(CTX, 100),
  NvmeControllerError: () => new all.NvmeControllerError('NVME_DEVICE_GONE', 'x'),
};

function errorClasses(): [string, new (...a: never[]) => Error][] {
  return Object.entries(all).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error) as [
    string,
    new (...a: never[]) => Error,
  ][];
}

function srcFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? srcFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('the root entry exports errors-all as `errors`', () => {
  assert.deepEqual(Object.keys(errors).sort(), Object.keys(all).sort());
  for (const [k, v] of Object.entries(all)) assert.equal((errors as Record<string, unknown>)[k], v, k);
});

test('every error class declared in src is in errors-all, or private with a reason', () => {
  const exported = new Set(errorClasses().map(([n]) => n));
  const missing: string[] = [];
  for (const f of srcFiles(join(ROOT, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^export class (\w+) extends (\w+)/gm)) {
      const [, name, base] = m as unknown as [string, string, string];
      if (!/Error$/.test(base!)) continue;
      if (!exported.has(name!) && PRIVATE[name!] === undefined) missing.push(`${name} (${relative(ROOT, f)})`);
    }
  }
  assert.deepEqual(missing, [], 'error classes a caller can meet but cannot import from errors');
  for (const name of Object.keys(PRIVATE)) assert.ok(!exported.has(name), `${name} is exported: drop it from PRIVATE`);
});

test('every class is an Error subclass with its class name as a stable `name`, and a code', () => {
  const classes = errorClasses();
  assert.deepEqual(classes.map(([n]) => n).sort(), Object.keys(SAMPLES).sort(), 'SAMPLES covers exactly the classes');
  for (const [name, cls] of classes) {
    const e = SAMPLES[name]!();
    assert.ok(e instanceof Error && e instanceof all.VfioTsError, `${name} is a VfioTsError`);
    assert.ok(e instanceof cls, `${name} sample is a ${name}`);
    assert.equal(e.name, name, `${name}.name`);
    assert.equal(cls.name, name, `${name} class name`);
    assert.equal(typeof (e as all.VfioTsError).code, 'string');
    assert.match(String(e), new RegExp(`^${name}: `));
  }
});

test('errno-carrying classes carry a known errno name and its number', () => {
  for (const name of ['SysError', 'ErrnoError', 'LayoutError', 'PeerError', 'StreamError', 'DmaError']) {
    const e = SAMPLES[name]!() as all.ErrnoError;
    assert.ok(all.isErrnoName(e.code), `${name}.code ${e.code}`);
    assert.equal(e.errno, all.errnoOf(e.code), `${name}.errno`);
  }
  assert.equal(new all.PeerError(1, 0).code, 'EIO', 'a peer error without errno is EIO');
  assert.equal(new all.PeerError(1, 99999).code, 'EIO', 'an errno Node cannot name is EIO');
  assert.throws(() => new all.ErrnoError('ESHUTDOWN' as all.ErrnoName, 'x'), TypeError, 'Node has no ESHUTDOWN');
});

// --- the code unions, checked by the compiler ---

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

/** Each probe is a module of its own; `ok` says whether it must compile. */
const PROBES: { what: string; ok: boolean; body: string }[] = [
  {
    what: 'known codes construct',
    ok: true,
    body: "new e.ErrnoError('EINVAL', 'x'); new e.NvmeControllerError('NVME_CLOSED', 'x'); new e.VfioSetupError('VFIO_MEMLOCK', 'x', 'y');",
  },
  { what: 'ErrnoError takes only errno names', ok: false, body: "new e.ErrnoError('EBOGUS', 'x');" },
  { what: 'ESHUTDOWN is not an errno Node knows', ok: false, body: "new e.ErrnoError('ESHUTDOWN', 'x');" },
  { what: 'NvmeControllerError takes only its codes', ok: false, body: "new e.NvmeControllerError('NVME_TIMEOUT', 'x');" },
  { what: 'VfioSetupError takes only its codes', ok: false, body: "new e.VfioSetupError('EINVAL', 'x', 'y');" },
  { what: 'LayoutError takes EINVAL or ENOSPC', ok: false, body: "new e.LayoutError('overlap', 'x', 'EIO');" },
  { what: 'DmaError takes an errno name', ok: false, body: "new e.DmaError('unmapped', 0n, 1, 'x', { code: 'NOPE' });" },
  { what: 'StreamError.code is EPROTO', ok: true, body: "const s = {} as e.StreamError; const c: 'EPROTO' = s.code; void c;" },
  {
    what: 'NvmeTimeoutError.code is NVME_TIMEOUT',
    ok: true,
    body: "const s = {} as e.NvmeTimeoutError; const c: 'NVME_TIMEOUT' = s.code; void c;",
  },
  {
    what: 'a catcher comparing to a foreign code is refused',
    ok: false,
    body: "const s = {} as e.NvmeControllerError; if (s.code === 'VFIO_MEMLOCK') {}",
  },
  {
    what: 'NvmeError.code is a status code',
    ok: true,
    body: "const s = {} as e.NvmeError; const c: e.NvmeStatusCode = s.code; if (s.code === 'NVME_INVALID_FIELD') {} void c;",
  },
  { what: 'NvmeError.code is not any string', ok: false, body: "const s = {} as e.NvmeError; if (s.code === 'EINVAL') {}" },
];

test('each class constructor takes, and its `code` is, the union of its codes', () => {
  const errorsAll = join(ROOT, 'src', 'errors-all.js');
  const virtual = new Map(
    PROBES.map((p, i) => [join(ROOT, 'src', `__errors_probe_${i}__.ts`), `import * as e from '${errorsAll}';\n${p.body}\nexport {};\n`]),
  );
  const host = ts.createCompilerHost(OPTIONS);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const t = virtual.get(f);
    return t === undefined ? getSourceFile.call(host, f, lang, ...rest) : ts.createSourceFile(f, t, lang);
  };
  const program = ts.createProgram([...virtual.keys()], OPTIONS, host);
  const wrong: string[] = [];
  [...virtual.keys()].forEach((f, i) => {
    const p = PROBES[i]!;
    const sf = program.getSourceFile(f)!;
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    const text = diags.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('; ');
    if (p.ok && diags.length > 0) wrong.push(`${p.what}: should compile, got ${text}`);
    if (!p.ok && diags.length === 0) wrong.push(`${p.what}: should not compile`);
    // A failing probe must fail for its code, not for a broken import.
    if (!p.ok && diags.some((d) => d.code === 2307)) wrong.push(`${p.what}: ${text}`);
  });
  assert.deepEqual(wrong, []);
});
