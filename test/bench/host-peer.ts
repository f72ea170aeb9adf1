import { HostSim } from '../../sim/host/host-sim.js';

/**
 * The acquirer host simulator in its own process, so the drain bench measures the
 * terminal's forwarder and not the host's share of one event loop.
 */
const host = new HostSim({ port: 0 });
const port = await host.start();
process.send?.({ port });
process.on('disconnect', () => {
  void host.stop().then(() => process.exit(0));
});
