// NVMe completion status (src/hw/nvme/status.ts) turned into typed errors.
//
// A non-zero SCT/SC becomes an NvmeError whose `code` is stable (such as
// 'NVME_LBA_OUT_OF_RANGE') and whose message reads like the spec. Time-outs
// and controller failures have their own error classes.

import { VfioTsError } from '../../errors.js';
import { decodeStatus, describeStatus, type NvmeStatus, type NvmeStatusCode } from '../../hw/nvme/status.js';
import { hex } from '../../util/format.js';

/** Where a failed command came from, for the message. */
export interface CommandOrigin {
  opcode: number;
  qid: number;
  cid: number;
  /** A readable name of the command ("Read", "Create I/O SQ"). */
  command?: string;
}

function commandName(ctx: CommandOrigin): string {
  return ctx.command ?? `opcode ${hex(ctx.opcode, 2)}`;
}

/** A command completed with an error status. */
export class NvmeError extends VfioTsError implements NvmeStatus {
  declare readonly code: NvmeStatusCode;
  readonly sct: number;
  readonly sc: number;
  readonly crd: number;
  readonly more: boolean;
  readonly dnr: boolean;
  /** The raw 15-bit status field. */
  readonly status: number;
  readonly opcode: number;
  readonly qid: number;
  readonly cid: number;
  /** Command specific DW0 of the completion. */
  readonly dw0: number;

  constructor(field: number, ctx: CommandOrigin, dw0 = 0) {
    const s = decodeStatus(field);
    const { code, name } = describeStatus(s.sct, s.sc);
    const what = commandName(ctx);
    super(code, `NVMe ${what} failed on queue ${ctx.qid}: ${name} (SCT ${s.sct}, SC ${hex(s.sc, 2)}${s.dnr ? ', do not retry' : ''})`);
    this.sct = s.sct;
    this.sc = s.sc;
    this.crd = s.crd;
    this.more = s.more;
    this.dnr = s.dnr;
    this.status = field;
    this.opcode = ctx.opcode;
    this.qid = ctx.qid;
    this.cid = ctx.cid;
    this.dw0 = dw0;
  }
}

/** A command got no completion in time (code NVME_TIMEOUT). */
export class NvmeTimeoutError extends VfioTsError {
  declare readonly code: 'NVME_TIMEOUT';
  readonly opcode: number;
  readonly qid: number;
  readonly cid: number;
  readonly timeoutMs: number;
  constructor(ctx: CommandOrigin, timeoutMs: number, detail = '') {
    const what = commandName(ctx);
    super('NVME_TIMEOUT', `NVMe ${what} (queue ${ctx.qid}, command id ${ctx.cid}) got no completion within ${timeoutMs} ms${detail}`);
    this.opcode = ctx.opcode;
    this.qid = ctx.qid;
    this.cid = ctx.cid;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The controller itself failed or misbehaved: NVME_CONTROLLER_FATAL (CSTS.CFS),
 * NVME_READY_TIMEOUT (CSTS.RDY did not follow CC.EN within CAP.TO),
 * NVME_SHUTDOWN_TIMEOUT, NVME_DEVICE_GONE (registers read all ones),
 * NVME_UNSUPPORTED (a capability the driver needs is missing),
 * NVME_QUEUE_CLOSED (the queue was deleted under a command), NVME_CLOSED (the
 * driver was shut down).
 */
export class NvmeControllerError extends VfioTsError {
  declare readonly code: NvmeControllerCode;
  constructor(code: NvmeControllerCode, message: string) {
    super(code, message);
  }
}

/** The codes an {@link NvmeControllerError} carries. */
export type NvmeControllerCode =
  | 'NVME_CONTROLLER_FATAL'
  | 'NVME_READY_TIMEOUT'
  | 'NVME_SHUTDOWN_TIMEOUT'
  | 'NVME_DEVICE_GONE'
  | 'NVME_UNSUPPORTED'
  | 'NVME_QUEUE_CLOSED'
  | 'NVME_CLOSED';
