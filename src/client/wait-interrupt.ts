// Waiting for one interrupt event: shared by the Device and the PCI-like view,
// which both emit 'interrupt' events naming their vector and 'close'.

import type { EventEmitter } from 'node:events';
import { fail } from '../errors.js';

/**
 * Resolves with the next 'interrupt' event of `source` whose `vector` is
 * `vector`; rejects with ENODEV if `source` emits 'close' first (`what` names
 * it) and with ETIMEDOUT after `timeoutMs`.
 */
export function nextInterrupt<E extends { vector: number }>(
  source: EventEmitter,
  vector: number,
  timeoutMs: number,
  what: string,
): Promise<E> {
  return new Promise((resolve, reject) => {
    const onIrq = (ev: E): void => {
      if (ev.vector !== vector) return;
      cleanup();
      resolve(ev);
    };
    const onClose = (): void => {
      cleanup();
      reject(fail('ENODEV', `${what} was closed while waiting for an interrupt`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(fail('ETIMEDOUT', `no interrupt on vector ${vector} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      source.off('interrupt', onIrq);
      source.off('close', onClose);
    };
    source.on('interrupt', onIrq);
    source.on('close', onClose);
  });
}
