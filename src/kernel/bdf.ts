// PCI addresses ("BDF": bus, device, function, with a domain in front), as
// sysfs names them: "dddd:bb:dd.f", lower-case hex. Users may leave the
// domain out ("00:04.0" means "0000:00:04.0") or write upper case (domains
// above 0xffff, such as VMD's 10000:, keep their five digits); anything
// else is refused with EINVAL before any file is touched.

import { fail } from '../errors.js';
import { hexDigits } from '../util/format.js';

/** A PCI address (domain:bus:device.function), parsed. */
export interface PciAddress {
  domain: number;
  bus: number;
  device: number;
  function: number;
}

const BDF_RE = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/** Parses "[dddd:]bb:dd.f"; throws ErrnoError EINVAL on anything else. */
export function parseBdf(text: string): PciAddress {
  if (typeof text !== 'string') throw fail('EINVAL', `a PCI address must be a string like 0000:00:04.0, got ${typeof text}`);
  const m = BDF_RE.exec(text.trim());
  if (!m) throw fail('EINVAL', `bad PCI address "${text}": expected [domain:]bus:device.function in hex, e.g. 0000:00:04.0`);
  const domain = m[1] === undefined ? 0 : parseInt(m[1], 16);
  const bus = parseInt(m[2]!, 16);
  const device = parseInt(m[3]!, 16);
  const fn = parseInt(m[4]!, 10);
  if (device > 0x1f) throw fail('EINVAL', `bad PCI address "${text}": device 0x${device.toString(16)} is above 0x1f`);
  return { domain, bus, device, function: fn };
}

/** "dddd:bb:dd.f", the sysfs spelling. */
export function formatBdf(a: PciAddress): string {
  return `${hexDigits(a.domain, 4)}:${hexDigits(a.bus, 2)}:${hexDigits(a.device, 2)}.${a.function}`;
}

/** Parses and re-spells a PCI address the way sysfs does. */
export function normalizeBdf(text: string): string {
  return formatBdf(parseBdf(text));
}
