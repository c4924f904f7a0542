// Crash-safe file replacement for checkpoints and downloads: write a temp file in the target's own
// folder (rename is only atomic within one file system), fsync it, rename it over the target, then
// fsync the folder. A crash or a thrown error leaves either the old file or the new one, never half
// of one, and the temp file is removed on error.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A fresh temp path next to `path`; the leading dot and pid make leftovers easy to spot. */
export function tempPathFor(path: string): string {
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
      try { closeSync(fd); } catch { /* already failing */ }
    }
    try { unlinkSync(tmp); } catch { /* never created or already renamed */ }
    throw err;
  }
  fsyncDir(dirname(path));
}
