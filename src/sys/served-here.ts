// The sockets this thread serves vfio-user on. The Driver API is synchronous
// (a region read blocks the thread until its reply), so a client on the
// thread that runs the server can never be answered: the server would need
// the very event loop the client is blocking. The server registers each
// socket it listens on; the client checks before it connects and fails at
// once instead of timing out.
//
// Module state is per thread (a worker thread loads its own copy), which is
// exactly the scope wanted. A socket is known by its path (made absolute) and
// by its file's device and inode, so a symlink or another spelling of the
// path is recognised too.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';

interface Served {
  path: string;
  dev: number;
  ino: number;
}

const served = new Set<Served>();

/** Records that this thread serves `path`; returns the function that forgets it (idempotent). */
export function registerServedSocket(path: string): () => void {
  const st = statSync(path);
  const entry: Served = { path: resolve(path), dev: st.dev, ino: st.ino };
  served.add(entry);
  return () => void served.delete(entry);
}

/** Whether a server of this thread listens on `path` (or on the socket file it names). */
export function isServedHere(path: string): boolean {
  if (served.size === 0) return false;
  let st: { dev: number; ino: number } | undefined;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  const abs = resolve(path);
  for (const s of served) {
    if (st ? st.dev === s.dev && st.ino === s.ino : abs === s.path) return true;
  }
  return false;
}
