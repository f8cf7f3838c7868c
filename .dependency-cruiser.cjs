// The layer map of src/ (docs/architecture.md), enforced: a module imports only
// from layers below its own (type imports included), siblings stay apart, and
// nothing forms a cycle. `npm run lint:deps`; also run by the test suite.
//
// Bottom to top. A layer may import any layer listed before it.
const LAYERS = [
  ['util', '^src/util/'],
  ['uapi', '^src/uapi/'],
  ['errors', '^src/errors\\.ts$'],
  ['sys', '^src/sys/'],
  ['pci', '^src/pci/'],
  ['protocol', '^src/protocol/'],
  ['kernel', '^src/kernel/'],
  ['hw', '^src/hw/'],
  ['client', '^src/client/'],
  ['server', '^src/server/'],
  ['devices', '^src/devices/'],
  ['drivers', '^src/drivers/'],
  ['broker', '^src/broker/'],
  ['cli', '^src/cli/'],
  ['entry', '^src/(index|errors-all)\\.ts$'],
];

// Pairs that sit side by side and must not know each other.
const SIBLINGS = [
  ['client', 'server'],
  ['devices', 'drivers'],
  ['devices', 'client'],
  ['drivers', 'server'],
];

const path = (name) => LAYERS.find(([n]) => n === name)[1];

const forbidden = [
  {
    name: 'no-cycle',
    severity: 'error',
    comment: 'A cycle (type imports included) means two modules are one concern or need a narrower interface.',
    from: {},
    to: { circular: true },
  },
  {
    name: 'src-only',
    severity: 'error',
    comment: 'The package must not reach into tests, benchmarks or the guest harness.',
    from: { path: '^src/' },
    to: { path: '^(test|bench|vm|examples)/' },
  },
  {
    name: 'no-unknown-layer',
    severity: 'error',
    comment: 'Every module of src/ belongs to a layer of the map.',
    from: { path: '^src/', pathNot: LAYERS.map(([, p]) => `(${p})`).join('|') },
    to: {},
  },
];

LAYERS.forEach(([name, from], i) => {
  const above = LAYERS.slice(i + 1).map(([, p]) => `(${p})`);
  if (above.length === 0) return;
  forbidden.push({
    name: `layer-${name}`,
    severity: 'error',
    comment: `${name} imports only from the layers below it`,
    from: { path: from },
    to: { path: above.join('|') },
  });
});
for (const [a, b] of SIBLINGS) {
  for (const [x, y] of [[a, b], [b, a]]) {
    forbidden.push({
      name: `apart-${x}-${y}`,
      severity: 'error',
      comment: `${x} and ${y} are siblings: neither imports the other`,
      from: { path: path(x) },
      to: { path: path(y) },
    });
  }
}
// uapi is the bottom: it imports nothing of ours.
forbidden.push({ name: 'uapi-imports-nothing', severity: 'error', from: { path: path('uapi') }, to: { path: '^src/', pathNot: path('uapi') } });

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    moduleSystems: ['es6'],
  },
};
