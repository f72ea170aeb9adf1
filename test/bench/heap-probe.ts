/**
 * Loaded into the product under the bench (`node --expose-gc --import heap-probe.js`): on
 * SIGUSR2 it collects garbage and writes the JavaScript heap in use to stderr, so memory
 * growth is judged on live data and not on how much room V8 keeps for later.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  process.stderr.write(`pos-bench-heap ${JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss })}\n`);
});
