import { PosError } from '../../drivers/base/errors.js';
import type { DiagnosticsSession } from '../ui/diagnostics/session.js';

/**
 * The control socket speaks newline-delimited JSON. A request names a session method and
 * its arguments; the answer is zero or more progress messages, then one result or error.
 *
 *   -> {"id":3,"method":"drain","params":["saf"]}
 *   <- {"id":3,"progress":{"done":1,"total":4}}
 *   <- {"id":3,"result":{"done":4,"total":4,"remaining":0}}
 */
export interface ControlRequest {
  id: number;
  method: string;
  params?: unknown[];
}

export type ControlMessage =
  { id: number; progress: unknown } | { id: number; result: unknown } | { id: number; error: { code: string; message: string } };

/**
 * The methods a remote client may call, with nothing else reachable through the socket. Kept
 * with the wire format, so the server checks a request without loading the session behind it.
 */
export const SESSION_METHODS = [
  'login',
  'deviceInfo',
  'status',
  'cardReadTest',
  'testPrint',
  'hostEcho',
  'queues',
  'drain',
  'declineStats',
  'alerts',
  'jobs',
  'runJob',
  'logTail',
  'setLogLevel',
  'config',
  'exportBundle',
  'logout',
] as const satisfies readonly (keyof DiagnosticsSession)[];

export type SessionMethod = (typeof SESSION_METHODS)[number];

/** A request or answer longer than this is refused and the connection closed. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export class ControlError extends PosError {}

/** Splits a byte stream into lines, refusing any line longer than the limit. */
export class LineSplitter {
  private buf = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() !== '') this.onLine(line);
    }
    if (this.buf.length > MAX_MESSAGE_BYTES) {
      this.buf = '';
      throw new ControlError('CONTROL_MESSAGE_TOO_LONG', `control message longer than ${MAX_MESSAGE_BYTES} bytes`);
    }
  }
}
