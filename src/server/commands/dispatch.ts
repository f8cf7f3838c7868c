// Which handler serves which command. A command the specification defines
// but a server does not take (DMA_READ/DMA_WRITE go the other way) is
// EINVAL; one it does not define never gets here (validateHeader: ENOSYS).

import { fail } from '../../errors.js';
import { Command, commandName, type Header } from '../../protocol/index.js';
import type { MaybePromise } from '../../util/promise.js';
import type { CommandContext, CommandHandler, CommandReply } from './context.js';
import { onDeviceReset, onRegionInfo } from './device.js';
import { onDmaMap, onDmaUnmap } from './dma-map.js';
import { onIrqInfo, onSetIrqs } from './irqs.js';
import { onDeviceFeature, onDeviceInfo, onMigDataRead, onMigDataWrite, onRegionIoFds } from './policy.js';
import { onRegionRead, onRegionWrite, onRegionWriteMulti } from './region.js';
import { onVersion } from './version.js';

const HANDLERS = new Map<number, CommandHandler>([
  [Command.VERSION, onVersion],
  [Command.DMA_MAP, onDmaMap],
  [Command.DMA_UNMAP, onDmaUnmap],
  [Command.DEVICE_GET_INFO, onDeviceInfo],
  [Command.DEVICE_GET_REGION_INFO, onRegionInfo],
  [Command.DEVICE_GET_REGION_IO_FDS, onRegionIoFds],
  [Command.DEVICE_GET_IRQ_INFO, onIrqInfo],
  [Command.DEVICE_SET_IRQS, onSetIrqs],
  [Command.REGION_READ, onRegionRead],
  [Command.REGION_WRITE, onRegionWrite],
  [Command.REGION_WRITE_MULTI, onRegionWriteMulti],
  [Command.DEVICE_RESET, onDeviceReset],
  [Command.DEVICE_FEATURE, onDeviceFeature],
  [Command.MIG_DATA_READ, onMigDataRead],
  [Command.MIG_DATA_WRITE, onMigDataWrite],
]);

/** Runs the handler of `h.command`; returns its reply or throws its error. */
export function dispatchCommand(ctx: CommandContext, h: Header, payload: Uint8Array, fds: number[]): MaybePromise<CommandReply> {
  const handler = HANDLERS.get(h.command);
  if (handler) return handler(ctx, h, payload, fds);
  if (h.command === Command.DMA_READ || h.command === Command.DMA_WRITE) {
    throw fail('EINVAL', `${commandName(h.command)} is a server-to-client command`);
  }
  throw fail('ENOSYS', `unknown ${commandName(h.command)}`);
}
