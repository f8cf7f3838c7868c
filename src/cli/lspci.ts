// `vfio-ts lspci <socket|BDF>`: a device's config space as its driver sees
// it (through VFIO's or the server's filtering), decoded in the spirit of
// `lspci -vvv`, then its VFIO regions and interrupts. With --dump, the hex
// format `lspci -F` reads instead.

import type { Device } from '../client/device.js';
import { decodeConfigSpace } from '../pci/decode.js';
import { formatLspciDump } from '../pci/lspci-dump.js';
import { pciRegion } from '../uapi/vfio.js';

const REGION_NAMES = ['BAR0', 'BAR1', 'BAR2', 'BAR3', 'BAR4', 'BAR5', 'ROM', 'CONFIG', 'VGA'];
const IRQ_NAMES = ['INTx', 'MSI', 'MSI-X', 'ERR', 'REQ'];

export function configBytes(dev: Device): Uint8Array {
  const size = Math.min(dev.regionInfo(pciRegion.CONFIG).size, 4096);
  const bytes = new Uint8Array(size);
  dev.config.read(0, bytes);
  return bytes;
}

export function lspciText(dev: Device, options: { dump?: boolean; slot?: string } = {}): string {
  const cfg = configBytes(dev);
  if (options.dump) return formatLspciDump(cfg, { slot: options.slot ?? '00:00.0' });
  const barSizes: (number | undefined)[] = [];
  for (let i = 0; i < 6; i++) barSizes.push(dev.regionInfo(i).size || undefined);
  const rom = dev.info.numRegions > pciRegion.ROM ? dev.regionInfo(pciRegion.ROM).size : 0;
  const out = [decodeConfigSpace(cfg, { slot: options.slot ?? '00:00.0', barSizes, ...(rom ? { romSize: rom } : {}) }).trimEnd()];
  out.push(`\tVFIO: ${dev.backend.kind} ${dev.backend.name}, flags${dev.info.reset ? ' reset' : ''}${dev.info.pci ? ' pci' : ''}`);
  for (let i = 0; i < dev.info.numRegions; i++) {
    const r = dev.regionInfo(i);
    if (r.size === 0) continue;
    const access = `${r.readable ? 'r' : '-'}${r.writable ? 'w' : '-'}${r.mappable ? 'm' : '-'}`;
    const areas =
      r.mappable && r.mmapAreas.length && !(r.mmapAreas.length === 1 && r.mmapAreas[0]!.size === r.size)
        ? ` mmap ${r.mmapAreas.map((a) => `[0x${a.offset.toString(16)}+0x${a.size.toString(16)}]`).join(' ')}`
        : '';
    out.push(`\tRegion ${i} (${REGION_NAMES[i] ?? '?'}): size 0x${r.size.toString(16)} ${access}${areas}`);
  }
  for (let i = 0; i < dev.info.numIrqs; i++) {
    let line: string;
    try {
      const q = dev.irqInfo(i);
      const flags = [q.eventfd && 'eventfd', q.maskable && 'maskable', q.automasked && 'automasked', q.noresize && 'noresize'].filter(
        Boolean,
      );
      line = `count ${q.count}${flags.length ? ` (${flags.join(', ')})` : ''}`;
    } catch (err) {
      line = `unavailable (${(err as { code?: string }).code ?? 'error'})`;
    }
    out.push(`\tIRQ ${i} (${IRQ_NAMES[i] ?? '?'}): ${line}`);
  }
  return out.join('\n') + '\n';
}
