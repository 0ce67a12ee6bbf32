/**
 * The NATS adapter's own logic (src/nats): ack reply parsing, API error recognition and the
 * retry, first without a server, then against real nats-servers: a standalone one for streams,
 * consumers and the manager setup, and a three-server cluster started one server short, whose
 * meta group has no leader until the second server comes (the 10008 the retry exists for).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, JetStreamApiError, StorageType, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiCode,
  EPHEMERAL_CONSUMER,
  apiErrorOf,
  deleteConsumerQuietly,
  ensureStream,
  getLast,
  getNext,
  isApiError,
  isNoResponders,
  isTemporarilyUnavailable,
  isWrongLastSequence,
  openJetStream,
  parseAckReply,
  retrying,
} from '../../src/nats/mod.js';
import { NatsServerProcess, freePorts, renderNatsConfig, startNatsServer } from '../../src/testing/mod.js';
import type { NatsServer } from '../../src/testing/mod.js';
import { describeWithNats, waitFor } from '../bus/nats-env.js';

/** A refusal as nats.js builds it from the server's `{ error: { code, err_code, description } }`. */
const refusal = (status: number, errCode: number, description: string): JetStreamApiError => new JetStreamApiError({ code: status, err_code: errCode, description });

describe('nats adapter - ack replies', () => {
  it('reads stream, consumer and sequences from the 9-token form, the timestamp in ms', () => {
    const ts = 1_765_000_000_123_456_789n;
    expect(parseAckReply(`$JS.ACK.KV_b.mrdw_x_1.1.42.7.${ts}.0`)).toEqual({
      stream: 'KV_b',
      consumer: 'mrdw_x_1',
      streamSeq: 42,
      deliverySeq: 7,
      timestampMs: 1_765_000_000_123,
    });
  });

  it('reads the 12-token form with domain and account hash', () => {
    const r = parseAckReply('$JS.ACK.hub.ACCHASH.MRD_LOG_t.mrdlog_ab.1.9.3.1765000000000000000.5.rnd');
    expect(r).toMatchObject({ stream: 'MRD_LOG_t', consumer: 'mrdlog_ab', streamSeq: 9, deliverySeq: 3, timestampMs: 1_765_000_000_000 });
  });

  it('says nothing for subjects that are not an ack reply', () => {
    expect(parseAckReply(undefined)).toBeUndefined();
    expect(parseAckReply('_INBOX.abc.1')).toBeUndefined();
    expect(parseAckReply('$JS.ACK.S.C.1.2.3.4')).toBeUndefined(); // 8 tokens
    expect(parseAckReply('$JS.ACK.S.C.1.2.3.4.5.6')).toBeUndefined(); // 10 tokens
    expect(parseAckReply('$JS.ACK.S.C.1.x.3.4.0')).toBeUndefined();
    expect(parseAckReply('$JS.ACK.S.C.1.2.y.4.0')).toBeUndefined();
  });

  it('falls back to our clock when the timestamp is unreadable', () => {
    const before = Date.now();
    const r = parseAckReply('$JS.ACK.S.C.1.2.3.soon.0');
    expect(r?.timestampMs).toBeGreaterThanOrEqual(before);
    expect(r?.timestampMs).toBeLessThanOrEqual(Date.now());
  });
});

describe('nats adapter - API errors', () => {
  it('finds a refusal inside a cause chain and matches its code', () => {
    const inner = refusal(503, ApiCode.TemporarilyUnavailable, 'JetStream system temporarily unavailable');
    const wrapped = new Error('open failed', { cause: new Error('create failed', { cause: inner }) });
    expect(apiErrorOf(wrapped)).toBe(inner);
    expect(isTemporarilyUnavailable(wrapped)).toBe(true);
    expect(isApiError(wrapped, ApiCode.StreamNameExists, ApiCode.TemporarilyUnavailable)).toBe(true);
    expect(isApiError(wrapped, ApiCode.StreamNameExists)).toBe(false);
    expect(apiErrorOf(new Error('plain'))).toBeUndefined();
    expect(isTemporarilyUnavailable('a string')).toBe(false);
  });

  it('reads both wrong-last-sequence codes as a lost compare-and-set', () => {
    expect(isWrongLastSequence(refusal(400, 10071, 'wrong last sequence: 4'))).toBe(true);
    expect(isWrongLastSequence(refusal(400, 10164, 'wrong last sequence'))).toBe(true);
    expect(isWrongLastSequence(refusal(503, 10008, 'JetStream system temporarily unavailable'))).toBe(false);
  });
});

describe('nats adapter - retrying', () => {
  /** A call failing with `errors` in turn, then answering with how many calls it took. */
  const failing = (...errors: Error[]): { fn: () => Promise<number>; calls: () => number } => {
    let n = 0;
    return {
      fn: () => {
        const err = errors[n++];
        return err === undefined ? Promise.resolve(n) : Promise.reject(err);
      },
      calls: () => n,
    };
  };
  const unavailable = (): JetStreamApiError => refusal(503, ApiCode.TemporarilyUnavailable, 'JetStream system temporarily unavailable');

  it('retries what retryOn accepts, once per pause', async () => {
    const f = failing(unavailable(), unavailable());
    await expect(retrying(f.fn, isTemporarilyUnavailable, [1, 1])).resolves.toBe(3);
  });

  it('throws the last error once the pauses are used up', async () => {
    const last = unavailable();
    const f = failing(unavailable(), last, unavailable());
    await expect(retrying(f.fn, isTemporarilyUnavailable, [1])).rejects.toBe(last);
    expect(f.calls()).toBe(2);
  });

  it('throws any other failure at once', async () => {
    const other = refusal(400, ApiCode.StreamNameExists, 'stream name already in use with a different configuration');
    const f = failing(other, unavailable());
    await expect(retrying(f.fn, isTemporarilyUnavailable, [1, 1, 1])).rejects.toBe(other);
    expect(f.calls()).toBe(1);
  });

  it('waits the given pauses between calls', async () => {
    const f = failing(unavailable(), unavailable());
    const t0 = Date.now();
    await retrying(f.fn, isTemporarilyUnavailable, [60, 60]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
  });
});

describeWithNats('nats adapter - on a standalone server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    ({ jsm } = await openJetStream(nc, 3000));
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    await server?.close();
  }, 30_000);

  it('ensureStream - creates a stream, then updates the limits of an existing one and keeps its storage', async () => {
    await ensureStream(jsm, { name: 'ES', subjects: ['es.>'], storage: StorageType.File, max_msgs_per_subject: 5 });
    expect((await jsm.streams.info('ES')).config).toMatchObject({ storage: StorageType.File, max_msgs_per_subject: 5 });
    // The server refuses a changed config on create with the code ensureStream reacts to.
    const refused = await jsm.streams.add({ name: 'ES', subjects: ['es.>'], storage: StorageType.Memory }).catch((e: unknown) => e);
    expect(isApiError(refused, ApiCode.StreamNameExists)).toBe(true);
    await ensureStream(jsm, { name: 'ES', subjects: ['es.>'], storage: StorageType.Memory, max_msgs_per_subject: 10 });
    expect((await jsm.streams.info('ES')).config).toMatchObject({ storage: StorageType.File, max_msgs_per_subject: 10 });
  });

  it('getNext and getLast - look messages up by subject', async () => {
    await ensureStream(jsm, { name: 'LK', subjects: ['lk.>'] });
    const js = (await openJetStream(nc, 3000)).js;
    await js.publish('lk.a', 'a1');
    await js.publish('lk.b', 'b1');
    await js.publish('lk.a', 'a2');
    expect((await getNext(jsm, 'LK', 'lk.a', 1))?.string()).toBe('a1');
    expect((await getNext(jsm, 'LK', 'lk.a', 2))?.seq).toBe(3);
    expect(await getNext(jsm, 'LK', 'lk.a', 4)).toBeNull();
    expect((await getLast(jsm, 'LK', 'lk.a'))?.string()).toBe('a2');
    expect((await getLast(jsm, 'LK', 'lk.b'))?.seq).toBe(2);
    expect(await getLast(jsm, 'LK', 'lk.c')).toBeNull();
  });

  it('consumers - an ephemeral consumer delivers with an ack reply parseAckReply reads, and is deleted quietly', async () => {
    await ensureStream(jsm, { name: 'EC', subjects: ['ec.>'] });
    const js = (await openJetStream(nc, 3000)).js;
    await js.publish('ec.x', 'one');
    const before = Date.now();
    await js.publish('ec.x', 'two');
    const deliver = `_INBOX.adapter-test.${Date.now()}`;
    const got: string[] = [];
    const sub = nc.subscribe(deliver, {
      callback: (_e, m) => {
        got.push(m.reply ?? '');
      },
    });
    const ci = await jsm.consumers.add('EC', { name: 'eph', deliver_subject: deliver, deliver_policy: DeliverPolicy.All, filter_subject: 'ec.x', ...EPHEMERAL_CONSUMER });
    expect(ci.config).toMatchObject({ mem_storage: true, inactive_threshold: 30_000_000_000 });
    await waitFor(() => got.length === 2, 'two deliveries', 5000);
    const second = parseAckReply(got[1]);
    expect(second).toMatchObject({ stream: 'EC', consumer: 'eph', streamSeq: 2, deliverySeq: 2 });
    expect(second?.timestampMs).toBeGreaterThanOrEqual(before - 1000);
    expect(second?.timestampMs).toBeLessThanOrEqual(Date.now() + 1000);
    sub.unsubscribe();
    deleteConsumerQuietly(nc, jsm, 'EC', 'eph');
    await waitFor(async () => (await jsm.consumers.info('EC', 'eph').catch((e: unknown) => e)) instanceof JetStreamApiError, 'the consumer to be gone', 5000);
    // A consumer that is not there, or none at all: nothing thrown, nothing rejected.
    deleteConsumerQuietly(nc, jsm, 'EC', 'never-was');
    deleteConsumerQuietly(nc, jsm, 'EC', undefined);
    await nc.flush();
  });
});

describeWithNats('nats adapter - openJetStream without the account probe', () => {
  it('opens a manager where JetStream does not answer, and each call then fails as no responders', async () => {
    // A server without JetStream answers the account probe with no responders, like a cluster
    // whose JetStream is unreachable; jetstreamManager's default probe refuses to open at all.
    await using server = await startNatsServer({ jetstream: false });
    const nc = await connect({ servers: server.url });
    try {
      await expect(jetstreamManager(nc, { timeout: 1000 })).rejects.toThrow();
      const { jsm } = await openJetStream(nc, 1000);
      const err = await jsm.streams.info('ANY').catch((e: unknown) => e);
      expect(isNoResponders(err)).toBe(true);
    } finally {
      await nc.close();
    }
  }, 30_000);
});

describeWithNats('nats adapter - a cluster waiting for its meta leader', () => {
  let dir: string;
  let clientPort = 0;
  const servers: NatsServerProcess[] = [];
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-nats-adapter-'));
    const ports = await freePorts(9);
    const at = (i: number): number => ports[i] ?? 0;
    clientPort = at(0);
    // Three servers of one cluster, each routed to all three: the meta group needs two of them.
    const routes = [6, 7, 8].map((i) => `nats://127.0.0.1:${at(i)}`);
    for (const i of [0, 1, 2]) {
      const configFile = join(dir, `n${i}.conf`);
      const spec = { serverName: `n${i}`, port: at(i), httpPort: at(3 + i), jetstreamStoreDir: join(dir, `js${i}`), cluster: { name: 'c', port: at(6 + i), routes } };
      await writeFile(configFile, renderNatsConfig(spec));
      servers.push(new NatsServerProcess({ configFile, logFile: join(dir, `n${i}.log`), httpUrl: `http://127.0.0.1:${at(3 + i)}` }));
    }
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('ensureStream waits out the election: 10008 while one of three servers runs, created once a second one comes', async () => {
    const [first, second] = servers;
    if (!first || !second) throw new Error('no servers');
    await first.start();
    nc = await connect({ servers: `nats://127.0.0.1:${clientPort}` });
    const { jsm } = await openJetStream(nc, 1000);
    const add = (): Promise<unknown> => jsm.streams.add({ name: 'ML', subjects: ['ml.>'] });
    // A server alone first lets API requests time out while it looks for peers (about 10 s on
    // this machine), then answers "temporarily unavailable": wait for that answer.
    let refused: unknown;
    await waitFor(
      async () => {
        refused = await add().then(
          () => undefined,
          (e: unknown) => e,
        );
        return isTemporarilyUnavailable(refused);
      },
      'the leaderless server to answer 10008',
      30_000,
      200,
    );
    expect(apiErrorOf(refused)?.status).toBe(503);
    // With no leader coming, the retry gives up after its pauses with the server's refusal.
    await expect(retrying(add, isTemporarilyUnavailable, [50, 50])).rejects.toSatisfy(isTemporarilyUnavailable);
    // ensureStream retries for about 5 s (META_LEADER_PAUSES_MS); a second server brings a leader.
    const ensured = ensureStream(jsm, { name: 'ML', subjects: ['ml.>'] });
    await new Promise((r) => setTimeout(r, 300));
    await second.start();
    await ensured;
    expect((await jsm.streams.info('ML')).config.name).toBe('ML');
  }, 60_000);
});
