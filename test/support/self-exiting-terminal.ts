/**
 * The real terminal, made to end by itself (status 7) as it reads its third console line: a
 * product that dies on its own, which the crash campaign must report as a failure rather
 * than count as one of its kills.
 */
let lines = 0;
process.stdin.on('data', (chunk: Buffer) => {
  lines += chunk.toString().split('\n').length - 1;
  if (lines >= 3) setImmediate(() => process.exit(7));
});
await import('../../firmware-app/main.js');
