// A raw config space (e.g. read from real hardware) -> a layout that presents
// only the allowed capabilities.
//
// The walk is the kernel's (vfio_cap_init / vfio_ecap_init): a standard
// capability the kernel does not know the length of (or that the owner's
// `hide` policy refuses) is hidden by pointing the previous next-pointer - in
// the shadow only - past it; if no standard capability remains, the shadow's
// Capabilities List status bit is cleared. Extended capabilities are relinked
// the same way, except the first one: the chain must start at 0x100, so a
// hidden first capability stays as a placeholder whose header reads with ID 0
// and version 0 but keeps its next pointer. If no extended capability is left
// at all, the dword at 0x100 reads 0. A chain that points back into itself
// (broken hardware) is cut where it loops; the kernel bounds its walk instead.

import { validateBars, validateRom, type BarDecl, type RomDecl } from './bars.js';
import { extCapLength, stdCapLength, type RawRead } from './caps/registry.js';
import { ErrnoError } from '../errors.js';
import type { Layout, UnassignedPolicy } from './layout.js';
import { getLe, setLe } from './le.js';
import type { RegionSpec } from './region.js';
import {
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAP_SIZEOF,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_EXT_CAP_ID,
  PCI_EXT_CAP_NEXT,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_NORMAL,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
} from './regs.js';

/** The capability a {@link RawLayoutOptions.hide} policy is asked about. */
export interface HideQuery {
  id: number;
  extended: boolean;
  offset: number;
}

/** BAR geometry and hiding policy for {@link layoutFromRaw}. */
export interface RawLayoutOptions {
  /** BAR geometry, known to the owner (e.g. from VFIO region info). Without it BARs read 0. */
  bars?: readonly (BarDecl | undefined | null)[];
  rom?: RomDecl;
  /** Extra policy: return true to hide a capability the kernel would present. */
  hide?: (cap: HideQuery) => boolean;
  /** Bytes outside every capability (default 'raw', the kernel's). */
  unassigned?: UnassignedPolicy;
}

/** Turn a raw type 0 config space into a layout that hides the capabilities the kernel would; throws EINVAL unless it is 256 or 4096 bytes with a type 0 header. */
export function layoutFromRaw(raw: Uint8Array, options: RawLayoutOptions = {}): Layout {
  const size = raw.length;
  if (size !== PCI_CFG_SPACE_SIZE && size !== PCI_CFG_SPACE_EXP_SIZE) {
    throw new ErrnoError('EINVAL', `a raw config space is 256 or 4096 bytes, not ${size}`);
  }
  if ((raw[PCI_HEADER_TYPE]! & PCI_HEADER_TYPE_MASK) !== PCI_HEADER_TYPE_NORMAL) {
    throw new ErrnoError('EINVAL', `header type ${raw[PCI_HEADER_TYPE]! & PCI_HEADER_TYPE_MASK} is not supported (type 0 only)`);
  }
  const hw = Uint8Array.from(raw);
  const shadow = Uint8Array.from(raw);
  const read: RawRead = (off, n) => (off + n <= size ? getLe(hw, off, n) : 0);
  const hide = options.hide ?? (() => false);
  const regions: RegionSpec[] = [{ kind: 'header', id: 0, start: 0, length: PCI_STD_HEADER_SIZEOF }];

  // Standard capabilities.
  if (read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) {
    let prevNext = PCI_CAPABILITY_LIST;
    let pos = read(PCI_CAPABILITY_LIST, 1) & ~3;
    let loops = (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / PCI_CAP_SIZEOF;
    let caps = 0;
    const seen = new Set<number>();
    while (pos && loops-- > 0) {
      if (pos < PCI_STD_HEADER_SIZEOF || seen.has(pos)) {
        shadow[prevNext] = 0; // a pointer into the header, or back into the list, ends it
        break;
      }
      seen.add(pos);
      const id = read(pos + PCI_CAP_LIST_ID, 1);
      const next = read(pos + PCI_CAP_LIST_NEXT, 1) & ~3;
      let len = id && !hide({ id, extended: false, offset: pos }) ? stdCapLength(read, id, pos) : 0;
      len = Math.min(len, PCI_CFG_SPACE_SIZE - pos);
      if (!len) {
        shadow[prevNext] = next;
        pos = next;
        continue;
      }
      regions.push({ kind: 'cap', id, start: pos, length: len });
      prevNext = pos + PCI_CAP_LIST_NEXT;
      pos = next;
      caps++;
    }
    if (!caps) setLe(shadow, PCI_STATUS, 2, getLe(shadow, PCI_STATUS, 2) & ~PCI_STATUS_CAP_LIST);
  }

  // Extended capabilities.
  if (size === PCI_CFG_SPACE_EXP_SIZE && read(PCI_CFG_SPACE_SIZE, 4) !== 0) {
    let epos = PCI_CFG_SPACE_SIZE;
    let prev: number | undefined;
    let loops = (size - PCI_CFG_SPACE_SIZE) / PCI_CAP_SIZEOF;
    let ecaps = 0;
    const seen = new Set<number>();
    while (loops-- > 0 && epos >= PCI_CFG_SPACE_SIZE) {
      if (seen.has(epos)) {
        // A chain looping back is cut (in the shadow) where it loops.
        if (prev !== undefined) setLe(shadow, prev, 4, (getLe(shadow, prev, 4) & ~(0xffc << 20)) >>> 0);
        break;
      }
      seen.add(epos);
      const header = read(epos, 4);
      const id = PCI_EXT_CAP_ID(header);
      const next = PCI_EXT_CAP_NEXT(header);
      let len = hide({ id, extended: true, offset: epos }) ? 0 : extCapLength(read, id, epos);
      len = Math.min(len, size - epos);
      let hidden = false;
      if (!len) {
        if (prev !== undefined) {
          const p = getLe(shadow, prev, 4);
          setLe(shadow, prev, 4, ((p & ~(0xffc << 20)) | (next << 20)) >>> 0);
          epos = next;
          continue;
        }
        len = PCI_CAP_SIZEOF;
        hidden = true;
      }
      const r: RegionSpec = { kind: 'ecap', id, start: epos, length: len };
      if (hidden) {
        r.hidden = true;
        setLe(shadow, epos, 4, (header & (0xffc << 20)) >>> 0);
      } else ecaps++;
      regions.push(r);
      prev = epos;
      epos = next;
    }
    if (!ecaps) setLe(shadow, PCI_CFG_SPACE_SIZE, 4, 0);
  }

  return {
    size,
    hardware: hw,
    shadow,
    writable: new Uint8Array(size).fill(0xff),
    w1c: new Uint8Array(size),
    regions,
    bars: validateBars(options.bars ?? []),
    romSize: validateRom(options.rom)?.size,
    unassigned: options.unassigned ?? 'raw',
  };
}
