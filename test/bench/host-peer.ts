import { HostSim } from '../../sim/host/host-sim.js';

/**
 * The acquirer host simulator in its own process, so the drain bench measures the
 * terminal's forwarder and not the host's share of one event loop. argv[2]: milliseconds
 * every advice waits before its answer (the simulator's `delay` action).
 */
const delayMs = Number(process.argv[2] ?? '0');
const host = new HostSim({ port: 0 });
if (delayMs > 0) host.defaults['0220'] = { type: 'delay', ms: delayMs, then: { type: 'approve' } };
const port = await host.start();
process.send?.({ port });
process.on('disconnect', () => {
  void host.stop().then(() => process.exit(0));
});
