// Typed errors for impossible config-space layouts.
//
// Building a config space can fail for reasons a caller may want to branch on
// (two capabilities overlapping, no room left, a 64-bit BAR in slot 5...).
// Each failure is an ErrnoError (so it maps onto an errno where one is needed:
// EINVAL for a bad declaration, ENOSPC when the capabilities do not fit) with
// a stable `reason` naming the rule that was broken.

import { ErrnoError } from '../errors.js';

/** The layout rule a {@link LayoutError} reports as broken. */
export type LayoutErrorReason =
  | 'bad-value' // a field out of its range (IDs, pin, counts, ...)
  | 'not-power-of-two' // a size that must be a power of two is not
  | 'too-small' // a BAR/ROM below the spec's minimum
  | 'too-large' // a BAR/ROM above what its type can decode
  | 'bar-slot' // BAR index out of 0..5, a slot taken twice, 64-bit BAR in slot 5
  | 'misaligned' // a capability offset not dword aligned, MSI-X offsets not 8-byte aligned
  | 'out-of-range' // an explicit offset outside the capability area
  | 'overlap' // two capabilities (or MSI-X table and PBA) overlap
  | 'no-room' // automatic placement found no space
  | 'duplicate' // a capability that may appear once appears twice
  | 'ext-on-conventional' // extended capabilities on a 256-byte config space
  | 'ext-head' // no extended capability at 0x100 to start the chain
  | 'msix-bar'; // MSI-X table/PBA not inside an implemented memory BAR

/** A config-space declaration that cannot be laid out; `reason` names the rule it breaks. */
export class LayoutError extends ErrnoError {
  declare readonly code: 'EINVAL' | 'ENOSPC';
  readonly reason: LayoutErrorReason;
  constructor(reason: LayoutErrorReason, message: string, code: 'EINVAL' | 'ENOSPC' = 'EINVAL') {
    super(code, message);
    this.reason = reason;
  }
}

/** A LayoutError for `reason`, with errno ENOSPC for 'no-room' and EINVAL otherwise. */
export function layoutError(reason: LayoutErrorReason, message: string): LayoutError {
  return new LayoutError(reason, message, reason === 'no-room' ? 'ENOSPC' : 'EINVAL');
}
