/**
 * Imported first by the entry point, before any native module loads: on an unsupported
 * Node.js, better-sqlite3 crashes the process instead of failing with a message.
 */
export const SUPPORTED_NODE = '24 LTS or 22.12 and later';

/** Why this Node.js version cannot run the terminal, or undefined when it can. */
export function unsupportedRuntime(version: string): string | undefined {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major >= 24 || (major === 22 && minor >= 12)) return undefined;
  return `Node.js ${version} is not supported; install Node.js ${SUPPORTED_NODE} (README "Runtime")`;
}

const problem = unsupportedRuntime(process.versions.node);
if (problem) {
  process.stderr.write(`pos-companion: RUNTIME_UNSUPPORTED: ${problem}\n`);
  // Exit status 2, like an invalid configuration: the service manager must not retry it.
  process.exit(2);
}
