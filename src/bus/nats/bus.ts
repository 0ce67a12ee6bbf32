/**
 * `NatsBus`: one region's connection to a NATS super-cluster, implementing `Bus`.
 *
 * Core messaging maps one-to-one onto nats.js: subjects, queue groups (NATS gateways already
 * prefer the local cluster, then the lowest-RTT one), request/reply with no-responders. This
 * module adds Meridian's validation and typed errors, header mapping, and status as data.
 * KV lives in kv.ts; both share one connection.
 */
import { checkServerIdentity } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { assertHeaders, assertPublishSubject, assertQueueName, assertSubscribeSubject } from '../subjects.js';
import type {
  Bus,
  BusMessage,
  BusStatus,
  Kv,
  KvOptions,
  MessageHandler,
  PublishOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from '../types.js';
import { mapNatsError } from '../../nats/mod.js';
import { openNatsKv } from './kv.js';
import type { KvHost } from './kv.js';
import { toBusMessage, toNatsHeaders } from './message.js';
import { StatusFanout, mapNatsStatus } from './status.js';

export interface NatsBusOptions {
  /** The region this bus belongs to; equals the NATS cluster name of `servers`. */
  region: string;
  /** URLs of the region's NATS servers, e.g. `nats://127.0.0.1:4222`. */
  servers: string[];
  /** Connection name shown in server monitoring. */
  name?: string;
  /** Reconnect attempts before giving up; -1 (default) retries forever. */
  maxReconnectAttempts?: number;
  reconnectTimeWaitMs?: number;
  /** Replicas of KV buckets this bus creates (default 1: one-server clusters). */
  kvReplicas?: number;
  /** Timeout of JetStream API calls (KV), so calls fail fast while a home region is down. */
  requestTimeoutMs?: number;
  /** NKEY user seed (`SU...`) to authenticate with (the server keeps only its public key). */
  nkeySeed?: string;
  /**
   * TLS: `ca` (PEM) verifies the servers instead of the system roots; `cert` + `key` (PEM) present
   * a client certificate. Any of them makes TLS required; `tls://` URLs require it too.
   */
  tls?: { ca?: string; cert?: string; key?: string };
}

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
const DEFAULT_JS_TIMEOUT_MS = 3000;

export class NatsBus implements Bus, KvHost {
  readonly region: string;
  readonly nc: NatsConnection;
  readonly jsTimeoutMs: number;
  readonly kvReplicas: number;
  readonly #status = new StatusFanout();
  /** Things to end on close (KV watches). */
  readonly #closers = new Set<() => void>();
  #closing: Promise<void> | undefined;
  /** No more calls accepted (close() called, or the connection closed by itself). */
  #closed = false;
  /** The connection's end has been reported (status `closed`, iterators ended). */
  #finished = false;

  constructor(nc: NatsConnection, opts: NatsBusOptions) {
    this.region = opts.region;
    this.nc = nc;
    this.jsTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_JS_TIMEOUT_MS;
    this.kvReplicas = opts.kvReplicas ?? 1;
    void this.#pumpStatus();
    // The connection can close on its own (reconnect attempts exhausted, fatal server error):
    // the bus then behaves as closed. Handling closed() here also means no rejection is ever
    // left unhandled when a server goes away.
    nc.closed().then(
      (err) => this.#onConnectionClosed(err instanceof Error ? err : undefined),
      (err: unknown) => this.#onConnectionClosed(err instanceof Error ? err : new Error(String(err))),
    );
  }

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  publish(subject: string, data: Uint8Array, opts?: PublishOptions): void {
    this.#assertOpen();
    assertPublishSubject(subject);
    if (opts?.reply !== undefined) assertPublishSubject(opts.reply);
    assertHeaders(opts?.headers);
    this.assertPayload(data.length);
    try {
      const h = toNatsHeaders(opts?.headers);
      this.nc.publish(subject, data, h || opts?.reply ? { headers: h, reply: opts?.reply } : undefined);
    } catch (err) {
      throw mapNatsError(err, 'request', { subject }, this.#closed);
    }
  }

  subscribe(subject: string, handler: MessageHandler, opts?: SubscribeOptions): Subscription {
    this.#assertOpen();
    assertSubscribeSubject(subject);
    if (opts?.queue !== undefined) assertQueueName(opts.queue);
    const sub = this.nc.subscribe(subject, {
      queue: opts?.queue,
      // Callback subscription: one function call per message, no iterator or promise.
      callback: (err, m) => {
        if (err) return; // only permission errors arrive here; status is reported separately
        try {
          handler(toBusMessage(m));
        } catch (e) {
          // A throwing handler must not break the connection's read loop or other handlers.
          this.#status.emit({ type: 'error', region: this.region, error: e instanceof Error ? e : new Error(String(e)) });
        }
      },
    });
    let done = false;
    const out: { subject: string; queue?: string; unsubscribe(): void } = {
      subject,
      unsubscribe: () => {
        if (done) return;
        done = true;
        if (this.nc.isClosed()) return;
        try {
          sub.unsubscribe();
        } catch {
          // already gone with the connection
        }
      },
    };
    if (opts?.queue !== undefined) out.queue = opts.queue;
    return out;
  }

  async request(subject: string, data: Uint8Array, opts?: RequestOptions): Promise<BusMessage> {
    this.#assertOpen();
    assertPublishSubject(subject);
    assertHeaders(opts?.headers);
    this.assertPayload(data.length);
    const timeout = opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(timeout > 0)) {
      throw new MeridianError(ErrorCode.InvalidArgument, `timeoutMs must be > 0, got ${timeout}`);
    }
    try {
      const m = await this.nc.request(subject, data, { timeout, headers: toNatsHeaders(opts?.headers) });
      return toBusMessage(m);
    } catch (err) {
      throw mapNatsError(err, 'request', { subject, timeoutMs: timeout }, this.#closed);
    }
  }

  async kv(bucket: string, opts?: KvOptions): Promise<Kv> {
    this.#assertOpen();
    return openNatsKv(this, bucket, opts ?? {});
  }

  async flush(): Promise<void> {
    this.#assertOpen();
    try {
      await this.nc.flush();
    } catch (err) {
      throw mapNatsError(err, 'flush', {}, this.#closed);
    }
  }

  status(): AsyncIterable<BusStatus> {
    return this.#status.iterable();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** KvHost: register something (a watch) to end when the bus closes; returns the unregister. */
  onClose(fn: () => void): () => void {
    if (this.#closed) {
      fn();
      return () => {};
    }
    this.#closers.add(fn);
    return () => this.#closers.delete(fn);
  }

  assertPayload(bytes: number): void {
    const max = this.maxPayload;
    if (bytes > max) {
      throw new MeridianError(ErrorCode.BusPayloadTooLarge, `payload of ${bytes} bytes exceeds the maximum of ${max}`, { details: { bytes, max } });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new MeridianError(ErrorCode.BusClosed, 'the bus is closed', { details: { region: this.region } });
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#endClosers();
    try {
      // close(), not drain(): drain waits on remote interest and can hang while a region is down.
      await this.nc.close();
    } catch {
      // already closed by itself
    }
    await this.nc.closed().catch(() => undefined);
    this.#onConnectionClosed(undefined);
  }

  #endClosers(): void {
    const fns = [...this.#closers];
    this.#closers.clear();
    for (const fn of fns) {
      try {
        fn();
      } catch {
        // ending a watch must not stop ending the others
      }
    }
  }

  #onConnectionClosed(err: Error | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#closed = true;
    this.#endClosers();
    if (err) this.#status.emit({ type: 'error', region: this.region, error: err });
    this.#status.emit({ type: 'closed', region: this.region });
    this.#status.end();
  }

  async #pumpStatus(): Promise<void> {
    let reconnecting = false;
    try {
      for await (const s of this.nc.status()) {
        const mapped = mapNatsStatus(s, this.region, reconnecting);
        if (s.type === 'reconnecting') reconnecting = true;
        if (s.type === 'reconnect' || s.type === 'disconnect') reconnecting = false;
        if (mapped) this.#status.emit(mapped);
      }
    } catch (err) {
      this.#status.emit({ type: 'error', region: this.region, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
}

/** Connect a bus to a region's NATS servers. Rejects with `BUS_UNAVAILABLE` if none answers. */
/**
 * nats.js upgrades to TLS without a server name when the URL host is an IP address (overlay and
 * VPN deployments dial 10.77.x.y), and Node then checks the certificate against "localhost". The
 * certificate must instead name one of the configured servers (it is signed by the deployment's
 * CA, checked as usual): accepted when it is valid for any of their hosts.
 */
function serverIdentity(servers: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  const hosts = [...new Set(servers.map((s) => (URL.canParse(s) ? new URL(s).hostname.replace(/^\[|\]$/g, '') : s.replace(/:\d+$/, ''))))];
  return (host, cert) => {
    const direct = checkServerIdentity(host, cert);
    if (direct === undefined) return undefined;
    for (const h of hosts) if (checkServerIdentity(h, cert) === undefined) return undefined;
    return direct;
  };
}

export async function connectNatsBus(opts: NatsBusOptions): Promise<NatsBus> {
  if (opts.servers.length === 0) {
    throw new MeridianError(ErrorCode.InvalidArgument, 'connectNatsBus needs at least one server URL');
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.servers,
      name: opts.name ?? `meridian-${opts.region}`,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 250,
      // Stack traces captured per request cost more than they help on this hot path.
      noAsyncTraces: true,
      // A half-open TCP connection is noticed within ~15 s instead of the 4 min default.
      pingInterval: 5000,
      maxPingOut: 3,
      ...(opts.nkeySeed === undefined ? {} : { authenticator: nkeyAuthenticator(new TextEncoder().encode(opts.nkeySeed.trim())) }),
      ...(opts.tls === undefined ? {} : { tls: Object.assign({ ...opts.tls }, { checkServerIdentity: serverIdentity(opts.servers) }) }),
    });
  } catch (err) {
    throw new MeridianError(ErrorCode.BusUnavailable, `cannot connect to the NATS servers of region ${opts.region}`, {
      cause: err,
      details: { region: opts.region, servers: opts.servers },
    });
  }
  return new NatsBus(nc, opts);
}
