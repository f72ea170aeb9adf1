import { describe, expect, it } from 'vitest';
import { loadOnDemand, onFirstUse } from '../../firmware-app/load-on-demand.js';

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

  it('loads a part once at its first use and hands every later use the same module', async () => {
    let loads = 0;
    const renderer = onFirstUse('the slip renderer', async () => {
      loads++;
      return import('../../firmware-app/receipts/render-slip.js');
    });
    const [a, b] = await Promise.all([renderer(), renderer()]);
    expect(await renderer()).toBe(a);
    expect(b).toBe(a);
    expect(loads).toBe(1);
  });

  it('answers a failed first use with the typed error, and tries the load again at the next use', async () => {
    let gone = true;
    const missing = (): Promise<unknown> => import(`../../firmware-app/receipts/${'gone'}.js`);
    const renderer = onFirstUse('the slip renderer', async () => {
      if (gone) await missing();
      return import('../../firmware-app/receipts/render-slip.js');
    });
    await expect(renderer()).rejects.toMatchObject({ code: 'MODULE_LOAD_FAILED', details: { what: 'the slip renderer' } });
    gone = false;
    expect(typeof (await renderer()).renderSlip).toBe('function');
  });
});
