import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';

/**
 * Listens on loopback and returns the bound port. A simulator that was stopped passes its
 * previous port, so terminals configured with it reconnect to the same address.
 */
export async function listenOn(server: NetServer | HttpServer, port: number, address = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}
