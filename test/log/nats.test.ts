/**
 * The message log conformance suite against `NatsMessageLog` on a real three-region NATS
 * super-cluster (one nats-server per region, gateways through latency proxies).
 *
 * Every store is a fresh log (own streams) homed in us-east; the main handle appends from
 * eu-west and peers from ap-southeast and us-east, so every test crosses gateways. "Restart"
 * restarts the home region's nats-server (file storage) and reads back through a new handle.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, expect, it } from 'vitest';
import { subjects } from '../../src/bus/subjects.js';
import { ErrorCode } from '../../src/errors/mod.js';
import { openNatsLog } from '../../src/log/mod.js';
import type { LogOptions, MessageLog } from '../../src/log/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { REGIONS, describeWithNats, latencyMs } from '../bus/nats-env.js';
import { runLogConformance } from './conformance.js';
import type { LogEnv, LogFactory, LogHandle } from './conformance.js';
import { expectFails, waitFor } from './helpers.js';

const HOME = REGIONS[0];

async function startEnv(): Promise<{ sc: SuperCluster; ncs: NatsConnection[] }> {
  const sc = await startSuperCluster({ regions: REGIONS, latencyMs });
  const ncs: NatsConnection[] = [];
  for (const r of REGIONS) ncs.push(await connect({ servers: [sc.url(r)], maxReconnectAttempts: -1, reconnectTimeWait: 250 }));
  return { sc, ncs };
}

// One super-cluster for the whole file (conformance and the tests below), started on first use.
let shared: Promise<{ sc: SuperCluster; ncs: NatsConnection[] }> | undefined;
const cluster = (): Promise<{ sc: SuperCluster; ncs: NatsConnection[] }> => (shared ??= startEnv());
afterAll(async () => {
  if (!shared) return;
  const { sc, ncs } = await shared;
  await Promise.all(ncs.map((c) => c.close()));
  await sc.close();
}, 60_000);

let logs = 0;

const factory: LogFactory = {
  name: 'nats',
  async create(): Promise<LogEnv> {
    const { sc, ncs } = await cluster();
    const nc = (i: number): NatsConnection => {
      const c = ncs[i % ncs.length];
      if (!c) throw new Error('no connection');
      return c;
    };
    return {
      async open(opts: LogOptions = {}, tuning = {}): Promise<LogHandle> {
        const name = `t${++logs}`;
        const at = (i: number): Promise<MessageLog> => openNatsLog({ ...opts, nc: nc(i), name, home: HOME, timeoutMs: 3000, sweepIntervalMs: tuning.sweepIntervalMs ?? 200 });
        let peers = 0;
        return {
          log: await at(1),
          peer: () => at(2 + peers++),
          async restart() {
            await sc.restart(HOME);
            let log: MessageLog | undefined;
            // The stream comes back once the restarted server has recovered it: poll.
            await waitFor('the log stream to serve again', async () => {
              try {
                log ??= await at(1);
                await log.last('probe');
                return true;
              } catch {
                return false;
              }
            }, 30_000, 200);
            if (!log) throw new Error('unreachable');
            return log;
          },
          async stored(conversation) {
            // The stream's messages on the conversation's subject, read from the home region.
            const jsm = await jetstreamManager(nc(0), { checkAPI: false });
            const out: number[] = [];
            for (let p = 1; ; ) {
              const m = await jsm.streams.getMessage(`MRD_LOG_${name}`, { seq: p, next_by_subj: subjects.log(name, conversation) } as unknown as { seq: number });
              if (!m) return out;
              out.push((JSON.parse(m.header?.get('Mrd-Log') ?? '{}') as { seq: number }).seq);
              p = m.seq + 1;
            }
          },
        };
      },
      // The cluster outlives the suite: the file's afterAll stops it.
      close: () => Promise.resolve(),
    };
  },
};

describeWithNats('message log conformance: nats', () => {
  runLogConformance(factory);
});

describeWithNats('nats message log', () => {
  it('places the streams in the home region and refuses bad names', async () => {
    const [use, euw] = (await cluster()).ncs;
    if (!use || !euw) throw new Error('no connections');
    const log = await openNatsLog({ nc: euw, name: 'placed', home: 'ap-southeast', maxAgeMs: 60_000, dedupeWindowMs: 5000 });
    await log.append('c', { from: 'a', body: 1 });
    const jsm = await jetstreamManager(use, { checkAPI: false });
    const info = await jsm.streams.info('MRD_LOG_placed');
    expect(info.cluster?.name).toBe('ap-southeast');
    expect(info.config.storage).toBe('file');
    expect(info.config.duplicate_window).toBe(5000 * 1_000_000);
    expect((await jsm.streams.info('MRD_LOGHEAD_placed')).cluster?.name).toBe('ap-southeast');
    await expectFails(() => openNatsLog({ nc: euw, name: 'bad.name', home: 'us-east' }), ErrorCode.LogInvalidArgument);
    // Reopening with other limits updates the stream rather than failing.
    await openNatsLog({ nc: use, name: 'placed', home: 'ap-southeast', maxAgeMs: 120_000 });
    expect((await jsm.streams.info('MRD_LOG_placed')).config.max_age).toBe(120_000 * 1_000_000);
  }, 60_000);

  it('with a per-conversation policy the stream has no limits of its own: the sweep enforces them', async () => {
    const [use, euw] = (await cluster()).ncs;
    if (!use || !euw) throw new Error('no connections');
    const jsm = await jetstreamManager(use, { checkAPI: false });
    await openNatsLog({ nc: euw, name: 'policy', home: 'us-east', maxAgeMs: 60_000, maxPerConversation: 10 });
    expect((await jsm.streams.info('MRD_LOG_policy')).config).toMatchObject({ max_age: 60_000 * 1_000_000, max_msgs_per_subject: 10 });
    const log = await openNatsLog({ nc: euw, name: 'policy', home: 'us-east', maxAgeMs: 60_000, maxPerConversation: 10, retention: (c) => (c === 'short' ? { maxCount: 2 } : undefined), sweepIntervalMs: 3_600_000 });
    expect((await jsm.streams.info('MRD_LOG_policy')).config).toMatchObject({ max_age: 0, max_msgs_per_subject: -1 });
    for (let i = 0; i < 16; i++) await log.append(i < 4 ? 'short' : 'other', { from: 'a', body: i });
    await log.append('other', { from: 'a', body: 'last' });
    await log.append('other', { from: 'a', body: 'last' });
    // The global count (10) still applies to conversations without a rule, through the sweep.
    expect((await log.read('other')).map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect((await log.read('short')).map((e) => e.seq)).toEqual([3, 4]);
    await log.sweep();
    const subjects = (await jsm.streams.info('MRD_LOG_policy', { subjects_filter: 'mrd.log.policy.*' })).state.subjects;
    expect(subjects).toEqual({ 'mrd.log.policy.short': 2, 'mrd.log.policy.other': 10 });
    await log.close();
  }, 60_000);
});
