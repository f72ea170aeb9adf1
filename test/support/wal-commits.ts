import { closeSync, openSync, readSync, statSync } from 'node:fs';

const WAL_HEADER = 32;
const FRAME_HEADER = 24;

/**
 * Counts the commits in a SQLite write-ahead log: each commit ends with a frame whose header
 * gives the database size after it (zero in the other frames). With `synchronous=FULL`, each
 * is one fsync of the WAL, so this is the fsync count of the commits made since the WAL last
 * restarted, read from the file with no tracing and no timing. Frames from before a restart
 * (a different salt) are not counted.
 */
export function walCommits(walPath: string): number {
  const size = statSync(walPath, { throwIfNoEntry: false })?.size ?? 0;
  if (size < WAL_HEADER) return 0;
  const fd = openSync(walPath, 'r');
  try {
    const header = Buffer.alloc(WAL_HEADER);
    readSync(fd, header, 0, WAL_HEADER, 0);
    const pageSize = header.readUInt32BE(8);
    const salt = header.subarray(16, 24);
    const frame = Buffer.alloc(FRAME_HEADER);
    let commits = 0;
    for (let at = WAL_HEADER; at + FRAME_HEADER + pageSize <= size; at += FRAME_HEADER + pageSize) {
      readSync(fd, frame, 0, FRAME_HEADER, at);
      if (!frame.subarray(8, 16).equals(salt)) break;
      if (frame.readUInt32BE(4) !== 0) commits++;
    }
    return commits;
  } finally {
    closeSync(fd);
  }
}
