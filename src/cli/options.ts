// Option values, checked: each checker takes the text as typed and the
// option's name, and throws a UsageError naming the option and what it
// wants. Nothing here touches the device or the socket.

import { execFileSync } from 'node:child_process';
import { normalizeBdf } from '../kernel/bdf.js';
import { resolveGroup, resolvePaths, resolveUser } from '../kernel/sysfs.js';
import { UsageError } from './usage.js';

/** A non-negative decimal integer, at most `max`. */
export function integer(text: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`${option}: '${text}' is not a non-negative integer`);
  const n = Number(text);
  if (n > max) throw new UsageError(`${option}: ${n} is more than ${max}`);
  return n;
}

const SUFFIX: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A byte count: an integer with an optional binary suffix K, M, G, T (1G = 2^30); no fractions, no exponents. */
export function bytes(text: string, option: string): number {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(text);
  if (!m) throw new UsageError(`${option}: '${text}' is not a size (an integer number of bytes, optionally with K, M, G or T: 64M)`);
  const n = Number(m[1]) * SUFFIX[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option}: '${text}' is too large`);
  return n;
}

/** A socket file's permission bits, octal, 000..777 (never setuid, setgid or sticky). */
export function socketMode(text: string, option: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new UsageError(`${option}: '${text}' is not an octal permission mode from 000 to 777 (like 0660)`);
  return parseInt(text, 8);
}

function idOf(text: string, option: string, kind: 'user' | 'group'): number {
  if (text === '') throw new UsageError(`${option}: an empty ${kind}`);
  const paths = resolvePaths();
  const id = kind === 'user' ? resolveUser(paths, text) : resolveGroup(paths, text);
  if (id !== undefined) {
    if (!Number.isSafeInteger(id) || id > 0xfffffffe) throw new UsageError(`${option}: '${text}' is not a ${kind} id`);
    return id;
  }
  // Not in /etc/passwd or /etc/group: the name service (LDAP, sssd...) may know it.
  try {
    const [cmd, args] = kind === 'user' ? ['id', ['-u', text]] : ['getent', ['group', text]];
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const id = kind === 'user' ? out : (out.split(':')[2] ?? '');
    if (/^\d+$/.test(id)) return Number(id);
  } catch {
    // unknown
  }
  throw new UsageError(`${option}: unknown ${kind} '${text}' (a name or a numeric id)`);
}

/** A user, by name or uid. */
export function user(text: string, option: string): number {
  return idOf(text, option, 'user');
}

/** A group, by name or gid. */
export function group(text: string, option: string): number {
  return idOf(text, option, 'group');
}

/** A string option that must not be empty when given. */
export function path(text: string, option: string): string {
  if (text === '') throw new UsageError(`${option}: an empty path`);
  return text;
}

/** A PCI address ([domain:]bus:device.function), in the sysfs spelling. */
export function bdf(text: string, what: string): string {
  try {
    return normalizeBdf(text);
  } catch (err) {
    throw new UsageError(`${what}: ${(err as Error).message}`);
  }
}
