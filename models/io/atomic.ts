// Crash-safe file replacement for checkpoints and downloads: write a temp file in the target's own
// folder (rename is only atomic within one file system), fsync it, rename it over the target, then
// fsync the folder. A crash or a thrown error leaves either the old file or the new one, never half
// of one, and the temp file is removed on error.
// A killed process cannot remove its temp file, so asking for a new temp path of a target first
// removes that target's leftovers (`.<name>.tmp-<pid>-<8 hex>`): only regular files, only of
// processes that no longer exist here, and only once untouched for STALE_TEMP_AGE_MS, because a
// folder shared with another machine or container holds live temps whose pid means nothing here.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** How long a dead process's temp file must have been left alone before it is removed. */
export const STALE_TEMP_AGE_MS = 10 * 60_000;

/** Whether `pid` names a process that exists (EPERM: it does, owned by someone else). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the temp files of `path` left by dead processes (see the header) and returns their
 * paths. Best effort: an unreadable folder or a file that vanishes meanwhile is skipped.
 */
export function removeStaleTemps(path: string): string[] {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || !Number.isSafeInteger(pid) || pid <= 0 || processExists(pid)) continue;
    const p = join(dir, name);
    try {
      const st = lstatSync(p);
      if (!st.isFile() || now - st.mtimeMs < STALE_TEMP_AGE_MS) continue;
      unlinkSync(p);
      removed.push(p);
    } catch {
      // Gone already (another process cleaning up) or not ours to remove: leave it.
    }
  }
  return removed;
}

/** A fresh temp path next to `path`, after removing stale ones; the leading dot and pid make leftovers easy to spot. */
export function tempPathFor(path: string): string {
  removeStaleTemps(path);
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Best-effort fsync of a folder so the rename itself survives a power cut (not all OSes allow it). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse to fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes all of `data` to `fd`, looping over short writes. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
}

/**
 * Replaces `path` atomically with whatever `write(fd)` writes. If `write` throws, the temp file
 * is deleted, `path` is untouched and the error propagates.
 */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = tempPathFor(path);
  let fd: number | undefined = openSync(tmp, 'wx', 0o644);
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* never created or already renamed */
    }
    throw err;
  }
  fsyncDir(dirname(path));
}
