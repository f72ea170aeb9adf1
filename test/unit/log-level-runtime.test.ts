import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../firmware-app/logging/logger.js';
import type { Terminal } from '../../firmware-app/terminal.js';
import { TerminalAdapter } from '../../firmware-app/ui/terminal-adapter.js';

describe('changing the log level from the diagnostic menu', () => {
  it('turns debug lines on for the whole running process, and refuses a level that does not exist', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-level-')), 'pos.log');
    const root = createLogger({ level: 'info', destination: { file } });
    const component = root.child('host');
    // The adapter's log-level action touches only the logger, never the terminal.
    const adapter = new TerminalAdapter({} as unknown as Terminal, { logger: root });

    component.debug('before the change');
    expect(adapter.setLogLevel('debug')).toBe('debug');
    component.debug('after the change');
    root.flush();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('before the change');
    expect(text).toContain('after the change');

    expect(() => adapter.setLogLevel('verbose')).toThrow(expect.objectContaining({ code: 'LOG_LEVEL_INVALID' }));
  });
});
