/**
 * Free TCP ports on 127.0.0.1 for test servers whose ports must be known before they start
 * (nats-server gateway and cluster ports are written into each other's config files).
 *
 * The OS picks the port (listen on port 0). Ports handed out by this process are remembered and
 * never handed out twice, because a closed port is often the next one the kernel offers.
 */
import { createServer } from 'node:net';

const handedOut = new Set<number>();

function listenOnce(): Promise<{ port: number; release: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('listen(0) on 127.0.0.1 returned no port'));
        return;
      }
      const release = (): Promise<void> => new Promise((done) => server.close(() => done()));
      resolve({ port: address.port, release });
    });
  });
}

/**
 * `count` distinct free ports on 127.0.0.1. All are held open together while choosing, so they
 * differ from each other; they are released before returning, so a small race with other
 * processes remains (acceptable for tests).
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Array<{ port: number; release: () => Promise<void> }> = [];
  const chosen: number[] = [];
  try {
    // Bounded so a pathological kernel cannot spin us forever.
    for (let attempts = 0; chosen.length < count && attempts < count * 20 + 20; attempts++) {
      const h = await listenOnce();
      held.push(h);
      if (!handedOut.has(h.port)) {
        chosen.push(h.port);
      }
    }
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
  if (chosen.length < count) {
    throw new Error(`could not find ${count} free ports on 127.0.0.1`);
  }
  for (const p of chosen) handedOut.add(p);
  return chosen;
}

/** One free port on 127.0.0.1 (see `freePorts`). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}
