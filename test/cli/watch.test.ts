// `vfio-ts watch` begins with the devices there are now (from sysfs; here a
// fake tree), then follows the live events.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presentDevices, watch } from '../../src/cli/watch.js';
import { resolvePaths } from '../../src/kernel/sysfs.js';
import { fakeMachine } from '../kernel/fake-sysfs.js';

test('watch: a "present" line per device of sysfs, with ids and driver, before any event; a BDF narrows it', async () => {
  const m = fakeMachine();
  try {
    m.addDevice({ bdf: '0000:00:06.0', group: 3, driver: 'nvme', vendor: '0x8086', device: '0x0a54' });
    m.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
    m.addDevice({ bdf: '0000:00:08.0' });
    const lines: string[] = [];
    const ac = new AbortController();
    ac.abort();
    assert.equal(await watch(undefined, { paths: m.paths, write: (l) => lines.push(l), signal: ac.signal }), 0);
    assert.deepEqual(
      lines.map((l) => l.replace(/^\S+ /, '')),
      [
        'present 0000:00:04.0 1234:11e8 driver vfio-pci (vfio)',
        'present 0000:00:06.0 8086:0a54 driver nvme',
        'present 0000:00:08.0 1234:11e8',
      ],
    );
    const json: string[] = [];
    await watch('00:06.0', { paths: m.paths, json: true, write: (l) => json.push(l), signal: ac.signal });
    assert.equal(json.length, 1);
    assert.deepEqual(
      { ...JSON.parse(json[0]!), time: undefined },
      {
        time: undefined,
        event: 'present',
        bdf: '0000:00:06.0',
        vendor: '8086',
        device: '0a54',
        driver: 'nvme',
        isVfio: false,
        seqnum: null,
      },
    );
    assert.deepEqual(presentDevices(resolvePaths({ sys: '/nonexistent' }), null), [], 'no PCI bus: nothing present');
  } finally {
    m.cleanup();
  }
});
