import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SuperCluster, fetchMonitor, waitUntil } from '../../src/testing/mod.js';
import type { Gatewayz } from '../../src/testing/mod.js';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
const enc = new TextEncoder();
const dec = new TextDecoder();

describe('SuperCluster (3 regions, real nats-server, gateways through latency proxies)', () => {
  let sc: SuperCluster;
  const conns: NatsConnection[] = [];

  async function client(region: string): Promise<NatsConnection> {
    const nc = await connect({ servers: sc.url(region), reconnectTimeWait: 200 });
    conns.push(nc);
    return nc;
  }

  /** Serve `subject` from `nc`, replying with `name`; flushed so the server has the interest. */
  async function serve(nc: NatsConnection, subject: string, name: string, queue?: string): Promise<{ unsubscribe(): void }> {
    const sub = nc.subscribe(subject, { ...(queue === undefined ? {} : { queue }), callback: (_err, msg) => {
      msg.respond(enc.encode(name));
    } });
    await nc.flush();
    return sub;
  }

  /** Who answers a request, or an error name; never throws. */
  async function ask(nc: NatsConnection, subject: string, timeout = 2000): Promise<string> {
    try {
      return dec.decode((await nc.request(subject, enc.encode('?'), { timeout })).data);
    } catch (err) {
      return `error:${(err as Error).name}`;
    }
  }

  beforeAll(async () => {
    sc = await SuperCluster.start({ regions: REGIONS, latencyMs: 50 });
  });

  afterEach(async () => {
    await Promise.all(conns.splice(0).map((nc) => nc.close()));
  });

  afterAll(async () => {
    const dir = sc?.dir;
    await sc?.close();
    await sc?.close(); // idempotent
    if (dir !== undefined) expect(existsSync(dir)).toBe(false);
  });

  it('connects every gateway both ways, each through the ingress proxy of the region it dials', async () => {
    for (const region of REGIONS) {
      const gw = await fetchMonitor<Gatewayz>(sc.httpUrl(region), '/gatewayz');
      for (const other of REGIONS.filter((r) => r !== region)) {
        expect(gw.outbound_gateways?.[other]?.connection?.port).toBe(sc.ingress(other).port);
        expect(gw.inbound_gateways?.[other]?.length).toBeGreaterThan(0);
        expect(sc.ingress(region).connectionsOf(other)).toBe(1);
      }
    }
    expect(Object.keys(sc.urls())).toEqual([...REGIONS]);
  });

  it('measures ~100 ms gateway RTT and >= 100 ms cross-region requests with 50 ms one-way links', async () => {
    for (const region of REGIONS) {
      const rtts = await sc.gatewayRtts(region);
      expect(Object.keys(rtts).sort()).toEqual(REGIONS.filter((r) => r !== region).sort());
      for (const rtt of Object.values(rtts)) expect(rtt).toBeGreaterThanOrEqual(90);
    }
    const [east, west] = [await client('us-east'), await client('eu-west')];
    await serve(west, 'rtt.echo', 'eu-west');
    await waitUntil(async () => (await ask(east, 'rtt.echo')) === 'eu-west', { timeoutMs: 10_000, describe: () => 'eu-west echo reachable' });
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      expect(await ask(east, 'rtt.echo')).toBe('eu-west');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    }
  });

  it('serves a queue group from the lowest-RTT region, and fails over to the next one', async () => {
    sc.setLatency('us-east', 'eu-west', 10);
    sc.setLatency('eu-west', 'ap-southeast', 60);
    sc.setLatency('us-east', 'ap-southeast', 60);
    expect(sc.latencyMs('eu-west', 'us-east')).toBe(10);
    // RTTs come from server pings (1 s interval here): wait until us-east sees the new order.
    await waitUntil(
      async () => {
        const rtt = await sc.gatewayRtts('us-east');
        return (rtt['eu-west'] ?? Infinity) < 50 && (rtt['ap-southeast'] ?? 0) > 100;
      },
      { timeoutMs: 10_000, describe: async () => `us-east RTTs ${JSON.stringify(await sc.gatewayRtts('us-east'))}` },
    );
    const [east, west, ap] = [await client('us-east'), await client('eu-west'), await client('ap-southeast')];
    const westMember = await serve(west, 'work.q', 'eu-west', 'workers');
    await serve(ap, 'work.q', 'ap-southeast', 'workers');
    await waitUntil(async () => (await ask(east, 'work.q')) === 'eu-west', { timeoutMs: 10_000, describe: () => 'eu-west member serving' });
    for (let i = 0; i < 10; i++) expect(await ask(east, 'work.q')).toBe('eu-west');

    westMember.unsubscribe();
    await west.flush();
    await waitUntil(async () => (await ask(east, 'work.q')) === 'ap-southeast', { timeoutMs: 10_000, describe: () => 'failover to ap-southeast' });
    for (let i = 0; i < 5; i++) expect(await ask(east, 'work.q')).toBe('ap-southeast');
  });

  it('cut() partitions a link until restore(), and servers do not reconnect around the proxy', async () => {
    const [east, west] = [await client('us-east'), await client('eu-west')];
    await serve(west, 'cut.echo', 'eu-west');
    await waitUntil(async () => (await ask(east, 'cut.echo')) === 'eu-west', { timeoutMs: 10_000, describe: () => 'echo reachable' });

    sc.cut('us-east', 'eu-west');
    const linked = async (): Promise<boolean> => {
      const gw = await fetchMonitor<Gatewayz>(sc.httpUrl('us-east'), '/gatewayz');
      return gw.outbound_gateways?.['eu-west']?.connection !== undefined || (gw.inbound_gateways?.['eu-west'] ?? []).length > 0;
    };
    await waitUntil(async () => !(await linked()), { timeoutMs: 10_000, describe: () => 'us-east to drop its eu-west gateways' });
    // Gateways retry every second: after a few retries the link must still be down.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await linked()).toBe(false);
    expect(await ask(east, 'cut.echo', 500)).toMatch(/^error:/);

    sc.restore('us-east', 'eu-west');
    await sc.waitReady();
    await waitUntil(async () => (await ask(east, 'cut.echo')) === 'eu-west', { timeoutMs: 10_000, describe: () => 'echo reachable again' });
  });

  it('restarts a stopped region with its JetStream stream intact and its gateways reconnected', async () => {
    const east = await client('us-east');
    const jsm = await jetstreamManager(east);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'], placement: { cluster: 'eu-west', tags: ['region:eu-west'] } });
    const js = jetstream(east);
    // The stream's subject interest needs a moment to cross the gateway from eu-west to us-east:
    // until then a publish from us-east gets "no responders" (see docs/architecture.md).
    await waitUntil(
      async () => {
        try {
          await js.publish('keep.0', enc.encode('m0'));
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, describe: () => 'the KEEP stream to accept a publish from us-east' },
    );
    for (let i = 1; i < 5; i++) await js.publish(`keep.${i}`, enc.encode(`m${i}`));
    expect((await jsm.streams.info('KEEP')).cluster?.name).toBe('eu-west');

    await sc.stop('eu-west');
    expect(sc.isRunning('eu-west')).toBe(false);
    await sc.start('eu-west');
    expect(sc.isRunning('eu-west')).toBe(true);

    for (const region of REGIONS) {
      const rtts = await sc.gatewayRtts(region);
      expect(Object.keys(rtts)).toHaveLength(2);
    }
    let messages = -1;
    await waitUntil(
      async () => {
        messages = (await jsm.streams.info('KEEP')).state.messages;
        return messages === 5;
      },
      { timeoutMs: 15_000, describe: () => `stream KEEP to report 5 messages (last: ${messages})` },
    );
    const msg = await jsm.streams.getMessage('KEEP', { seq: 5 });
    expect(dec.decode(msg?.data)).toBe('m4');
  });
});
