import { closeSync, existsSync, fchmodSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingFileOptions {
  file: string;
  /** The live file is rotated before a line would take it past this size. */
  maxBytes: number;
  /** Rotated files kept beside the live one (`file.1` newest ... `file.N` oldest). */
  maxFiles: number;
  /** Where a failure to write is reported, once per error code (the log itself cannot carry it). */
  onError?: (err: NodeJS.ErrnoException) => void;
}

/** Opens for append with mode 0600, also when the file was left wider by an older build or by hand. */
function openPrivate(file: string): number {
  const fd = openSync(file, 'a', 0o600);
  fchmodSync(fd, 0o600);
  return fd;
}

/**
 * A pino destination that writes synchronously to a file and rotates it by size, so the
 * disk use of logging is bounded by maxBytes x (maxFiles + 1) on a terminal nobody watches.
 * Synchronous on purpose: a line logged just before a crash must be on disk.
 */
export class RotatingFileStream {
  private fd: number;
  private size: number;
  private readonly reported = new Set<string>();

  constructor(private readonly options: RotatingFileOptions) {
    if (!Number.isInteger(options.maxBytes) || options.maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
    if (!Number.isInteger(options.maxFiles) || options.maxFiles < 1) throw new RangeError('maxFiles must be a positive integer');
    // Private like the database: a log holds masked PANs, STANs and technician actions.
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    this.fd = openPrivate(options.file);
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: string): boolean {
    const bytes = Buffer.from(chunk);
    try {
      if (this.size > 0 && this.size + bytes.length > this.options.maxBytes) this.rotate();
      let done = 0;
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
      this.size += bytes.length;
    } catch (err) {
      this.report(err as NodeJS.ErrnoException);
    }
    return true;
  }

  /** Files currently on disk for this log, live file first. */
  files(): string[] {
    const all = [this.options.file];
    for (let i = 1; i <= this.options.maxFiles; i++) all.push(`${this.options.file}.${i}`);
    return all.filter((f) => existsSync(f));
  }

  end(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    const { file, maxFiles } = this.options;
    closeSync(this.fd);
    try {
      rmSync(`${file}.${maxFiles}`, { force: true });
      for (let i = maxFiles - 1; i >= 1; i--) {
        if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      }
      renameSync(file, `${file}.1`);
    } finally {
      this.fd = openPrivate(file);
      this.size = fstatSync(this.fd).size;
    }
  }

  private report(err: NodeJS.ErrnoException): void {
    const key = err.code ?? err.message;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    (
      this.options.onError ??
      ((e) => process.stderr.write(`pos-companion: cannot write log ${this.options.file}: ${e.code ?? e.message}\n`))
    )(err);
  }
}
