/**
 * `Kv` on a JetStream KV bucket of a NATS super-cluster.
 *
 * The bucket's stream is placed in its home region's cluster (cluster name = region name) and
 * reached from every region through the gateways. Reads and writes are nats.js `KV` calls with
 * short JetStream API timeouts, so while the home region is down they fail fast, mapped to
 * `BUS_UNAVAILABLE` / `BUS_TIMEOUT`; watches and `keys()` use our own consumer feed (feed.ts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { KV, KvEntry as NatsKvEntry } from '@nats-io/kv';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { assertBucketName, assertKvKey } from '../subjects.js';
import type { Kv, KvEntry, KvOptions, KvWatch, KvWatchOptions } from '../types.js';
import { isNoResponders, mapNatsError, openJetStream, retrying } from '../../nats/mod.js';
import type { ErrorContext } from '../../nats/mod.js';
import { listKeys, startWatch } from './watch.js';

/** What a bucket needs from the bus that opened it. */
export interface KvHost {
  readonly region: string;
  readonly nc: NatsConnection;
  readonly jsTimeoutMs: number;
  readonly kvReplicas: number;
  readonly isClosed: boolean;
  /** Run `fn` when the bus closes; returns a function that cancels this. */
  onClose(fn: () => void): () => void;
  assertPayload(bytes: number): void;
}

/** Pauses before retrying a KV call that found no responders (see `NatsKv.#call`). */
const NO_RESPONDER_RETRIES_MS = [50, 100, 200, 400];

function toEntry(e: NatsKvEntry): KvEntry {
  return {
    bucket: e.bucket,
    key: e.key,
    value: e.value,
    revision: e.revision,
    created: e.created.getTime(),
    operation: e.operation === 'PUT' ? 'PUT' : 'DEL',
  };
}

class NatsKv implements Kv {
  readonly bucket: string;
  readonly #host: KvHost;
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;

  constructor(host: KvHost, bucket: string, kv: KV, jsm: JetStreamManager) {
    this.#host = host;
    this.bucket = bucket;
    this.#kv = kv;
    this.#jsm = jsm;
  }

  get(key: string): Promise<KvEntry | null> {
    return this.#call('kv', key, async () => {
      const e = await this.#kv.get(key);
      // Deleted and purged keys come back as their delete marker.
      return e && e.operation === 'PUT' ? toEntry(e) : null;
    });
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.#call('kv', key, () => {
      this.#host.assertPayload(value.length);
      return this.#kv.put(key, value);
    });
  }

  create(key: string, value: Uint8Array): Promise<number> {
    return this.#call('kv-create', key, () => {
      this.#host.assertPayload(value.length);
      return this.#kv.create(key, value);
    });
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.#call('kv-update', key, () => {
      this.#host.assertPayload(value.length);
      // No key is ever at revision 0 or below; nats.js would throw a plain Error for it.
      if (!Number.isInteger(revision) || revision < 1) {
        throw new MeridianError(ErrorCode.KvWrongRevision, `revision ${revision} is not a revision of key ${JSON.stringify(key)}`, { details: { bucket: this.bucket, key, revision } });
      }
      return this.#kv.update(key, value, revision);
    });
  }

  delete(key: string): Promise<void> {
    return this.#call('kv', key, () => this.#kv.delete(key));
  }

  async keys(pattern = '>'): Promise<string[]> {
    assertKvKey(pattern, true);
    this.#assertOpen();
    try {
      return await listKeys({ nc: this.#host.nc, jsm: this.#jsm, bucket: this.bucket }, pattern, this.#host.jsTimeoutMs * 2);
    } catch (err) {
      throw mapNatsError(err, 'kv', { bucket: this.bucket, pattern }, this.#host.isClosed);
    }
  }

  async watch(opts?: KvWatchOptions): Promise<KvWatch> {
    const key = opts?.key ?? '>';
    assertKvKey(key, true);
    this.#assertOpen();
    try {
      const target = { nc: this.#host.nc, jsm: this.#jsm, bucket: this.bucket };
      return await startWatch(target, key, opts?.initial ?? true, (stop) => this.#host.onClose(stop));
    } catch (err) {
      throw mapNatsError(err, 'kv', { bucket: this.bucket, key }, this.#host.isClosed);
    }
  }

  #assertOpen(): void {
    if (this.#host.isClosed) throw new MeridianError(ErrorCode.BusClosed, 'the bus is closed', { details: { bucket: this.bucket } });
  }

  async #call<T>(ctx: ErrorContext, key: string, fn: () => Promise<T>): Promise<T> {
    assertKvKey(key);
    this.#assertOpen();
    try {
      // Right after a bucket is created (or its region comes back), the stream's interest may
      // not have crossed the gateways yet and the call finds no responders. Nothing was stored
      // then, so retrying briefly is safe; a region that is really down still fails within a
      // second.
      return await retrying(fn, (err) => isNoResponders(err) && !this.#host.isClosed, NO_RESPONDER_RETRIES_MS);
    } catch (err) {
      throw mapNatsError(err, ctx, { bucket: this.bucket, key }, this.#host.isClosed);
    }
  }
}

function checkOptions(bucket: string, opts: KvOptions): { history: number; ttlMs: number } {
  assertBucketName(bucket);
  const history = opts.history ?? 1;
  if (!Number.isInteger(history) || history < 1 || history > 64) {
    throw new MeridianError(ErrorCode.InvalidArgument, `history must be an integer from 1 to 64, got ${history}`, { details: { bucket } });
  }
  const ttlMs = opts.ttlMs ?? 0;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new MeridianError(ErrorCode.InvalidArgument, `ttlMs must be >= 0, got ${ttlMs}`, { details: { bucket } });
  }
  return { history, ttlMs };
}

/** Open a bucket, creating it in its home region if it does not exist yet. */
export async function openNatsKv(host: KvHost, bucket: string, opts: KvOptions): Promise<Kv> {
  const { history, ttlMs } = checkOptions(bucket, opts);
  const region = opts.region ?? host.region;
  try {
    const { js, jsm } = await openJetStream(host.nc, host.jsTimeoutMs);
    // Kvm.create looks the stream up first and only creates it when missing, so an existing
    // bucket is opened with its own settings (options apply at creation).
    const kv = await new Kvm(js).create(bucket, {
      history,
      ttl: ttlMs,
      replicas: host.kvReplicas,
      placement: { cluster: region, tags: [] },
    });
    return new NatsKv(host, bucket, kv, jsm);
  } catch (err) {
    throw mapNatsError(err, 'kv', { bucket, region }, host.isClosed);
  }
}
