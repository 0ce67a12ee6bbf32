/**
 * A userspace TCP proxy for tests: WAN latency and network partitions on loopback.
 *
 * The kernel here has no netem, so links between test servers (NATS gateways) go through this
 * proxy instead. It listens on 127.0.0.1 (random port by default) and forwards each accepted
 * connection to a target, delaying each direction by the latency while keeping order (see
 * delayed-pipe.ts). `cut()` partitions (live connections destroyed, new ones closed on accept)
 * until `restore()`.
 *
 * Optionally, `classify` names each connection from the first bytes its client sends (e.g. the
 * NATS gateway CONNECT says which region dials). Latency and cuts can then be set per label,
 * so one proxy in front of a server can play a different link for each peer.
 *
 * Nothing here may crash the process: every socket has an error handler, and an error on either
 * side of a connection destroys both sides.
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { DelayedPipe } from './delayed-pipe.js';

export interface TcpProxyOptions {
  /** Where connections are forwarded. */
  targetPort: number;
  /** Default 127.0.0.1. */
  targetHost?: string;
  /** One-way delay applied to every chunk in each direction. Default 0. */
  latencyMs?: number;
  /** Port to listen on (127.0.0.1). Default 0: the OS picks one. */
  listenPort?: number;
  /**
   * Name a connection from the bytes its client sent so far: a label, `null` to reject it, or
   * `undefined` to wait for more. Until labelled, client bytes are held back (the target's bytes
   * flow with the default latency, so protocols where the server speaks first still work).
   */
  classify?: (head: Buffer) => string | null | undefined;
}

/** Client bytes held while waiting for `classify` are capped; a silent or chatty client is dropped. */
const MAX_CLASSIFY_BYTES = 64 * 1024;

interface Pair {
  label: string | undefined;
  destroy(): void;
}

export class TcpProxy {
  private latency: number;
  private readonly labelLatency = new Map<string, number>();
  private isCut = false;
  private readonly cutLabels = new Set<string>();
  private closed = false;
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: Server,
    private readonly options: TcpProxyOptions,
  ) {
    this.latency = checkLatency(options.latencyMs ?? 0);
    server.on('connection', (socket) => this.accept(socket));
    // A listening-socket error after startup (rare) must not crash the test process.
    server.on('error', () => undefined);
  }

  /** Start listening; resolves once the port is bound. */
  static start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer({ allowHalfOpen: true });
    const proxy = new TcpProxy(server, options);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: options.listenPort ?? 0 }, () => {
        server.off('error', reject);
        resolve(proxy);
      });
    });
  }

  /** The port the proxy listens on (127.0.0.1). */
  get port(): number {
    const address = this.server.address();
    return address !== null && typeof address !== 'string' ? address.port : 0;
  }

  /** Live proxied connections (all, or those with `label`). */
  get connections(): number {
    return this.pairs.size;
  }

  connectionsOf(label: string): number {
    return [...this.pairs].filter((p) => p.label === label).length;
  }

  /** Current one-way latency in ms (the default, or what applies to `label`). */
  latencyOf(label?: string): number {
    return (label === undefined ? undefined : this.labelLatency.get(label)) ?? this.latency;
  }

  /** True between `cut()` and `restore()` (with a label: also while that label is cut). */
  isPartitioned(label?: string): boolean {
    return this.isCut || (label !== undefined && this.cutLabels.has(label));
  }

  /**
   * Change the one-way latency: the default, or for connections labelled `label` only. Applies
   * to chunks received from now on (order is kept).
   */
  setLatency(ms: number, label?: string): void {
    if (label === undefined) this.latency = checkLatency(ms);
    else this.labelLatency.set(label, checkLatency(ms));
  }

  /**
   * Partition: destroy live connections and close new ones on accept until `restore()`. With a
   * label, only connections with that label (new ones are closed once labelled).
   */
  cut(label?: string): void {
    if (label === undefined) this.isCut = true;
    else this.cutLabels.add(label);
    for (const pair of [...this.pairs]) {
      if (label === undefined || pair.label === label) pair.destroy();
    }
  }

  /** End the partition (the whole proxy's, or one label's): new connections are forwarded again. */
  restore(label?: string): void {
    if (label === undefined) this.isCut = false;
    else this.cutLabels.delete(label);
  }

  /** Stop listening and destroy every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pair of [...this.pairs]) pair.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.isCut || this.closed) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = connect({ host: this.options.targetHost ?? '127.0.0.1', port: this.options.targetPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    upstream.on('error', () => pair.destroy());

    const latency = (): number => this.latencyOf(pair.label);
    const toUpstream = new DelayedPipe(client, upstream, latency);
    const toClient = new DelayedPipe(upstream, client, latency);
    let closedSockets = 0;
    const pair: Pair = {
      label: undefined,
      destroy: () => {
        toUpstream.stop();
        toClient.stop();
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      },
    };
    this.pairs.add(pair);

    const classify = this.options.classify;
    let head: Buffer | undefined = classify === undefined ? undefined : Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (head === undefined) {
        toUpstream.push(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const label = classify?.(head);
      if (label === undefined && head.length <= MAX_CLASSIFY_BYTES) return;
      if (label === undefined || label === null || this.isPartitioned(label)) {
        pair.destroy();
        return;
      }
      pair.label = label;
      const held = head;
      head = undefined;
      toUpstream.push(held);
    });
    upstream.on('data', (chunk: Buffer) => toClient.push(chunk));
    // A FIN is forwarded after the same delay as the data before it (half-close is kept).
    client.on('end', () => (head === undefined ? toUpstream.push(null) : pair.destroy()));
    upstream.on('end', () => toClient.push(null));
    client.on('error', () => pair.destroy());
    const onClose = (into: DelayedPipe) => (hadError: boolean) => {
      if (hadError) {
        pair.destroy();
        return;
      }
      // Closed cleanly: both of its directions are finished, but the other pipe may still hold
      // delayed data for the peer, so only the pipe into this socket stops.
      into.stop();
      if (++closedSockets === 2) pair.destroy();
    };
    client.on('close', onClose(toClient));
    upstream.on('close', onClose(toUpstream));
  }
}

function checkLatency(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`latency must be a finite number of ms >= 0, got ${ms}`);
  }
  return ms;
}

/** Start a proxy (same as `TcpProxy.start`). */
export function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  return TcpProxy.start(options);
}
