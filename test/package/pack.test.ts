// The package as a user gets it: `npm pack`, installed into a fresh project
// (offline: no runtime dependencies; the install script builds the addon), a
// strict TypeScript consumer compiled against its types and run (a model in a
// worker and a driver doing real work, and the same-thread case failing at
// once), and the command through npx. Needs dist/ built (npm test does it).

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'vfio-ts-pack-'));
const project = join(work, 'consumer');
const installed = join(project, 'node_modules/vfio-ts');
after(() => rmSync(work, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string, timeout = 60_000) =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

/** Every file under `dir`, relative, sorted (build/ left out: the addon's build). */
function files(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, e.name);
    if (e.isDirectory()) {
      if (rel !== 'build') out.push(...files(dir, rel));
    } else out.push(rel);
  }
  return out.sort();
}

const MODEL = `// A model module for serveInWorker: its default export is a factory.
import { EduModel } from 'vfio-ts/devices/edu';
import type { DeviceModel } from 'vfio-ts/server';
export default (): DeviceModel => new EduModel({});
`;

const MAIN = `import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectVfioUser, type Device } from 'vfio-ts';
import { EduDriver } from 'vfio-ts/drivers/edu';
import { EduModel } from 'vfio-ts/devices/edu';
import { serveInWorker, VfioUserServer, WorkerServeError } from 'vfio-ts/server';

const dir = mkdtempSync(join(tmpdir(), 'consumer-'));
const socket = join(dir, 'edu.sock');
const served = await serveInWorker(new URL('./model.js', import.meta.url), { socket });
const dev: Device = connectVfioUser(socket);
const edu = EduDriver.attach(dev);
edu.enableInterrupts('msi');
const f = await edu.factorialByInterrupt(8, { timeoutMs: 10_000 });
const data = Uint8Array.from({ length: 512 }, (_, i) => (i * 13) & 0xff);
const back = await edu.roundTrip(data, { interrupt: true, timeoutMs: 10_000 });
edu.close();
await served.close();
console.log('factorial', f, 'dma', back.every((b, i) => b === data[i]) ? 'same' : 'different');

// A server on this very thread can never answer the synchronous Driver API: refused at once.
const here = VfioUserServer.listen(join(dir, 'here.sock'), new EduModel({}));
try {
  connectVfioUser(join(dir, 'here.sock'));
  console.log('same thread: connected?!');
} catch (err) {
  console.log('same thread:', (err as { code?: string }).code);
}
await here.close();
try {
  await serveInWorker(new URL('./missing.js', import.meta.url), { socket });
} catch (err) {
  console.log('missing module:', err instanceof WorkerServeError ? err.reason : String(err));
}
rmSync(dir, { recursive: true, force: true });
`;

describe('the packed package', { timeout: 240_000 }, () => {
  let before_: string[] = [];

  before(() => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {
        cwd: repo,
        encoding: 'utf8',
        timeout: 60_000,
      }),
    ) as {
      filename: string;
      files: { path: string }[];
    }[];
    const pack = packed[0]!;
    const shipped = pack.files.map((f) => f.path);
    // What the tarball holds: the built package, its sources (the source maps point there), the addon's sources.
    assert.deepEqual(shipped.filter((p) => !/^(dist|src|native)\//.test(p)).sort(), ['README.md', 'binding.gyp', 'package.json']);
    assert.deepEqual(
      shipped.filter((p) => /(^|\/)(test|tests|bench|examples|vm|fixtures)\//.test(p) || /\.test\.[jt]s$/.test(p)),
      [],
    );
    assert.ok(shipped.includes('dist/server/worker-entry.js'), "serveInWorker's thread ships");

    writeFileSync(join(work, 'package.json'), '{}');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
    const inst = run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, pack.filename)], project, 180_000);
    assert.equal(inst.status, 0, `npm install of the tarball failed:\n${inst.stdout}${inst.stderr}`);
    before_ = files(installed);
  });

  test('a strict TypeScript consumer compiles against it and runs a model in a worker and a driver', { timeout: 120_000 }, () => {
    writeFileSync(join(project, 'model.ts'), MODEL);
    writeFileSync(join(project, 'main.ts'), MAIN);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noUncheckedIndexedAccess: true,
          types: ['node'],
          typeRoots: [join(repo, 'node_modules/@types')],
          outDir: 'out',
        },
        files: ['main.ts', 'model.ts'],
      }),
    );
    const c = run(process.execPath, [tsc, '-p', '.'], project, 90_000);
    assert.equal(c.status, 0, `tsc failed:\n${c.stdout}${c.stderr}`);
    const r = run(process.execPath, ['out/main.js'], project, 30_000);
    assert.equal(r.signal, null, `the consumer hung: ${r.stdout}${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['factorial 40320 dma same', 'same thread: EDEADLK', 'missing module: module-not-found']);
  });

  test('npx vfio-ts demo passes and ends with its summary line', { timeout: 60_000 }, () => {
    const r = run('npx', ['--offline', 'vfio-ts', 'demo'], project, 50_000);
    assert.equal(r.signal, null, 'the demo hung');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim().split('\n').at(-1) ?? '', /^demo passed in [\d.]+ s: /);
  });

  test('npx vfio-ts --version prints the package version', { timeout: 30_000 }, () => {
    const r = run('npx', ['--offline', 'vfio-ts', '--version'], project, 25_000);
    assert.equal(r.status, 0, r.stderr);
    const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(r.stdout.trim(), version);
  });

  test('npx vfio-ts bench is refused with a message that says where the benchmarks are (exit 2)', { timeout: 30_000 }, () => {
    const r = run('npx', ['--offline', 'vfio-ts', 'bench'], project, 25_000);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'bench'/);
    assert.match(r.stderr, /npm run bench/);
  });

  test('nothing was written into the installed package', () => {
    assert.deepEqual(files(installed), before_);
  });
});
