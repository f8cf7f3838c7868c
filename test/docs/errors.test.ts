// The error classes are part of the public API: every class thrown from the
// library is exported in `errors` (src/errors-all.ts), each is an Error with a
// stable `name`, and each class's `code` is the union of the codes it can
// carry, so that the type checker refuses a code a class cannot have (in src
// and in a user's program alike). The CLI's UsageError is exempt: it never
// leaves the command (main prints it and exits 2).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as errors from '../../src/errors-all.js';
import { ensureDist } from './dist.js';
import { extractBlocks } from './markdown-blocks.js';
import { checkTsBlocks, packageEntries } from './ts-blocks.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/docs -> checkout
const ctx = { opcode: 0x02, qid: 1, cid: 7 };

// One instance of every class, built as the library builds them.
const SAMPLES: Record<string, () => Error> = {
  VfioTsError: () => new errors.VfioTsError('EINVAL', 'm'),
  SysError: () => new errors.SysError('open', constants.errno.ENOENT),
  ErrnoError: () => new errors.ErrnoError('EINVAL', 'm'),
  LayoutError: () => new errors.LayoutError('overlap', 'm'),
  PeerError: () => new errors.PeerError(1, constants.errno.EPERM),
  StreamError: () => new errors.StreamError('too-large', 'm', undefined, []),
  VfioSetupError: () => new errors.VfioSetupError('VFIO_NO_DEVICE', 'no device', 'check the address'),
  DmaError: () => new errors.DmaError('unmapped', 0x1000n, 4, 'm'),
  WorkerServeError: () => new errors.WorkerServeError('timeout', 'ETIMEDOUT', 'm'),
  NvmeError: () => new errors.NvmeError(0x0002, ctx), // SCT 0, SC 2: Invalid Field in Command
  NvmeTimeoutError: () => new errors.NvmeTimeoutError(ctx, 100),
  NvmeControllerError: () => new errors.NvmeControllerError('NVME_CLOSED', 'm'),
};

const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && /^class\s/.test(String(v)));

test('every class in errors is an Error subclass with its own stable name and a code', () => {
  assert.deepEqual(classes.map(([k]) => k).sort(), Object.keys(SAMPLES).sort(), 'a sample for each exported class');
  for (const [key, cls] of classes) {
    const e = SAMPLES[key]!();
    assert.ok(e instanceof (cls as new (...a: never[]) => Error), key);
    assert.ok(e instanceof Error && e instanceof errors.VfioTsError, `${key} is a VfioTsError`);
    assert.equal(e.name, key, `${key}'s name`);
    assert.equal(typeof (e as errors.VfioTsError).code, 'string');
  }
  assert.equal((SAMPLES.NvmeError!() as errors.NvmeError).code, 'NVME_INVALID_FIELD');
  assert.equal((SAMPLES.PeerError!() as errors.PeerError).code, 'EPERM');
  assert.equal((SAMPLES.SysError!() as errors.SysError).code, 'ENOENT');
});

test('every error class src declares is exported in errors (the CLI usage error aside)', () => {
  const out = execFileSync('git', ['grep', '-hoE', '^export class [A-Za-z]+ extends [A-Za-z]*Error\\b', '--', 'src'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const declared = out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[2]!);
  assert.ok(declared.length >= 10, out);
  const exported = new Set(classes.map(([k]) => k));
  assert.deepEqual(
    declared.filter((c) => c !== 'UsageError' && !exported.has(c)),
    [],
  );
});

test('every errno code src throws literally is one this platform knows', () => {
  // The types come from @types/node; this checks them against the runtime's table.
  const out = execFileSync('git', ['grep', '-hoE', "(fail|ErrnoError)\\('E[A-Z0-9]+'", '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  const codes = new Set(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => /'(E[A-Z0-9]+)'/.exec(l)![1]!),
  );
  assert.ok(codes.size >= 10, out);
  const errno = constants.errno as Record<string, number>;
  assert.deepEqual(
    [...codes].filter((c) => errno[c] === undefined),
    [],
  );
});

test('the type checker refuses a code a class cannot carry, and takes the ones it can', { timeout: 240_000 }, () => {
  ensureDist(ROOT);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const doc = [
    '```ts',
    "import { errors } from 'vfio-ts';",
    "const ok: 'EINVAL' | 'ENOSPC' = new errors.LayoutError('overlap', 'm').code;",
    "const c: errors.NvmeControllerCode = new errors.NvmeControllerError('NVME_CLOSED', 'm').code;",
    "function f(e: errors.ErrnoError) { if (e.code === 'EINVAL') return; }",
    '```',
    '```ts',
    "import { errors } from 'vfio-ts';",
    "new errors.ErrnoError('EBOGUS', 'm');", // line 9
    "new errors.NvmeControllerError('NVME_BOGUS', 'm');", // 10
    "new errors.VfioSetupError('VFIO_BOGUS', 's', 'h');", // 11
    "new errors.LayoutError('overlap', 'm', 'EPERM');", // 12
    "function g(e: errors.StreamError) { return e.code === 'EINVAL'; }", // 13: no overlap
    '```',
  ].join('\n');
  const problems = checkTsBlocks(ROOT, extractBlocks('codes.md', doc), packageEntries(pkg));
  const at = (line: number) => problems.filter((p) => p.at === `codes.md:${line}`);
  for (const line of [9, 10, 11, 12]) assert.match(at(line)[0]?.message ?? '', /TS2345/, `codes.md:${line} ${JSON.stringify(problems)}`);
  assert.match(at(13)[0]?.message ?? '', /TS2367/, JSON.stringify(problems));
  assert.deepEqual(
    problems.filter((p) => /codes\.md:[2-5]$/.test(p.at)),
    [],
  );
});
