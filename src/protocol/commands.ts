// The vfio-user command numbers (QEMU docs/interop/vfio-user.rst, "Commands").
//
// Every message header names one of these; a reply repeats its request's
// command. 14 was VFIO_USER_DIRTY_PAGES in earlier drafts and is gone from the
// specification: it is treated like any unknown number (ENOSYS).

/** The vfio-user command numbers, by the specification's names (VFIO_USER_ prefix dropped). */
export const Command = {
  VERSION: 1,
  DMA_MAP: 2,
  DMA_UNMAP: 3,
  DEVICE_GET_INFO: 4,
  DEVICE_GET_REGION_INFO: 5,
  DEVICE_GET_REGION_IO_FDS: 6,
  DEVICE_GET_IRQ_INFO: 7,
  DEVICE_SET_IRQS: 8,
  REGION_READ: 9,
  REGION_WRITE: 10,
  DMA_READ: 11,
  DMA_WRITE: 12,
  DEVICE_RESET: 13,
  REGION_WRITE_MULTI: 15,
  DEVICE_FEATURE: 16,
  MIG_DATA_READ: 17,
  MIG_DATA_WRITE: 18,
} as const;

/** A command's name, such as "DMA_MAP". */
export type CommandName = keyof typeof Command;
/** A command number the specification defines. */
export type CommandNumber = (typeof Command)[CommandName];

/** Who sends the request: the client (the VMM / driver side) or the server (the device). */
export type Direction = 'client-to-server' | 'server-to-client';

const NAMES = new Map<number, CommandName>((Object.entries(Command) as [CommandName, number][]).map(([name, n]) => [n, name]));

/** Whether the specification defines command number `n` (14, the withdrawn DIRTY_PAGES, is not). */
export function isKnownCommand(n: number): n is CommandNumber {
  return NAMES.has(n);
}

/** "DMA_MAP" for 2; "command 14" for numbers the specification does not define. */
export function commandName(n: number): string {
  return NAMES.get(n) ?? `command ${n}`;
}

/** The direction requests of a command travel in (DMA_READ/DMA_WRITE are the server's). */
export function commandDirection(n: CommandNumber): Direction {
  return n === Command.DMA_READ || n === Command.DMA_WRITE ? 'server-to-client' : 'client-to-server';
}
