import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TcpProxy } from '../../src/testing/mod.js';

/** An echo server on 127.0.0.1, random port. */
async function startEcho(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { server, port: address.port, sockets };
}

/** A connected client that collects everything it receives. */
async function client(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  let data = '';
  socket.on('data', (c: Buffer) => (data += c.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('TcpProxy', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let proxy: TcpProxy;

  beforeEach(async () => {
    echo = await startEcho();
    proxy = await TcpProxy.start({ targetPort: echo.port, latencyMs: 50 });
  });

  afterEach(async () => {
    await proxy.close();
    for (const s of echo.sockets) s.destroy();
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
  });

  it('delays each direction, so an echo round trip through a 50 ms proxy takes at least 100 ms', async () => {
    const c = await client(proxy.port);
    for (let i = 0; i < 3; i++) {
      const before = c.received().length;
      const t0 = performance.now();
      c.socket.write('x');
      await until(() => c.received().length > before);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(99);
    }
    expect(proxy.connections).toBe(1);
    c.socket.destroy();
    await until(() => proxy.connections === 0);
  });

  it('keeps the order of many small chunks, also when the latency drops mid-stream', async () => {
    const c = await client(proxy.port);
    const sent: string[] = [];
    for (let i = 0; i < 400; i++) {
      const piece = `${i},`;
      sent.push(piece);
      c.socket.write(piece);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
      // Later chunks would overtake earlier ones if each had its own independent timer.
      if (i === 200) proxy.setLatency(0);
    }
    const expected = sent.join('');
    await until(() => c.received().length >= expected.length);
    expect(c.received()).toBe(expected);
    c.socket.destroy();
  });

  it('cut() breaks live connections and closes new ones; restore() forwards again', async () => {
    const c = await client(proxy.port);
    c.socket.write('a');
    await until(() => c.received() === 'a');
    proxy.cut();
    await c.closed;
    expect(proxy.connections).toBe(0);
    expect(proxy.isPartitioned()).toBe(true);

    // A new connection is accepted by the kernel but closed at once, with nothing forwarded.
    const during = await client(proxy.port);
    during.socket.write('b');
    await during.closed;
    expect(during.received()).toBe('');
    expect(echo.sockets.size).toBe(0);

    proxy.restore();
    const after = await client(proxy.port);
    after.socket.write('c');
    await until(() => after.received() === 'c');
    after.socket.destroy();
  });

  it('survives a dead target and destroys every socket on close()', async () => {
    const c = await client(proxy.port);
    c.socket.write('a');
    await until(() => c.received() === 'a');
    // The target resets the connection: the proxy drops the pair and stays up.
    for (const s of echo.sockets) s.destroy();
    await c.closed;
    await until(() => proxy.connections === 0);

    const again = await client(proxy.port);
    again.socket.write('b');
    await until(() => again.received() === 'b');
    await proxy.close();
    await again.closed;
    expect(proxy.connections).toBe(0);
    await proxy.close(); // idempotent
  });

  it('closes the client side when nothing listens at the target', async () => {
    const dead = await TcpProxy.start({ targetPort: proxy.port });
    await proxy.close(); // now nothing listens at dead's target
    const c = await client(dead.port);
    await c.closed;
    expect(dead.connections).toBe(0);
    await dead.close();
  });

  it('applies latency and cuts per label when connections are classified', async () => {
    const classify = (head: Buffer): string | null | undefined => {
      const line = head.toString();
      if (!line.includes('\n')) return undefined;
      return line.startsWith('HELLO ') ? line.slice(6, line.indexOf('\n')) : null;
    };
    const labelled = await TcpProxy.start({ targetPort: echo.port, latencyMs: 0, classify });
    try {
      labelled.setLatency(60, 'slow');
      const slow = await client(labelled.port);
      const fast = await client(labelled.port);
      const t0 = performance.now();
      slow.socket.write('HELLO slow\n');
      fast.socket.write('HELLO fast\n');
      await until(() => fast.received() === 'HELLO fast\n');
      await until(() => slow.received() === 'HELLO slow\n');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(119);
      expect(labelled.connectionsOf('slow')).toBe(1);
      expect(labelled.latencyOf('slow')).toBe(60);
      expect(labelled.latencyOf('fast')).toBe(0);

      labelled.cut('slow');
      await slow.closed;
      expect(labelled.connectionsOf('fast')).toBe(1);
      const again = await client(labelled.port);
      again.socket.write('HELLO slow\n');
      await again.closed;
      expect(again.received()).toBe('');
      labelled.restore('slow');

      const stranger = await client(labelled.port);
      stranger.socket.write('GET /\n');
      await stranger.closed;
      expect(stranger.received()).toBe('');
      fast.socket.destroy();
    } finally {
      await labelled.close();
    }
  });

  it('rejects a negative latency', () => {
    expect(() => proxy.setLatency(-1)).toThrow(RangeError);
  });
});
