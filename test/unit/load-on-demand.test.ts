import { describe, expect, it } from 'vitest';
import { loadOnDemand } from '../../firmware-app/load-on-demand.js';

describe('modules loaded on a user action', () => {
  it('hands over the module when it loads', async () => {
    const { runDiagnosticsMenu } = await loadOnDemand('the technician menu', () => import('../../firmware-app/ui/diagnostics/menu.js'));
    expect(typeof runDiagnosticsMenu).toBe('function');
  });

  it('turns a module missing from the installed copy into a typed error naming what failed', async () => {
    const failing = loadOnDemand('the technician menu', () => import(`../../firmware-app/ui/diagnostics/${'gone'}.js`));
    await expect(failing).rejects.toMatchObject({ code: 'MODULE_LOAD_FAILED', details: { what: 'the technician menu' } });
    await expect(failing).rejects.toThrow(/^the technician menu could not be loaded: /);
  });
});
