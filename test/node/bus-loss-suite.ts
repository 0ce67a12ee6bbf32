/**
 * A region node whose bus goes away (issue 10): real nodes of a real three-region deployment,
 * the region's bus killed under its running node (embedded kill switch, or the region's
 * nats-server SIGKILLed). Two heartbeat intervals after the node notices, its clients get
 * `migrate` to a region it last heard healthy (the real client follows it and keeps receiving),
 * or a 4505 close when it knows none; meanwhile HTTP answers 503 + Retry-After at once and the
 * node is not ready. A blip shorter than that moves nobody. Back, it is ready and serves again.
 *
 * Run on both buses by bus-loss-embedded.test.ts and bus-loss-nats.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MeridianClient } from '../../src/client/node.js';
import type { ClientStatus, Message } from '../../src/client/node.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { CloseCode, SUBPROTOCOL } from '../../src/protocol/mod.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient, eventually } from './client.js';
import { value } from '../observability/prom.js';

export interface BusLossDeployment {
  readonly d: Deployment;
  /** The region's bus goes away under its running node. */
  killBus(region: string): Promise<void>;
  /** Its bus comes back as soon as it can (the servers listen again). */
  reviveBus(region: string): Promise<void>;
  /** Partition the region from the others (its bus stays up), and heal it. */
  isolate(region: string): Promise<void>;
  heal(region: string): Promise<void>;
  /** Set the one-way latency between two regions (and back to `linkMs`). */
  setLatency(a: string, b: string, ms: number): void;
  readonly linkMs: number;
  /** After a revive or heal: wait until the whole deployment works again. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface BusLossSetup {
  /** The nodes' heartbeatMs: the bus-loss grace is twice that. */
  readonly heartbeatMs: number;
  /** How late after the grace a `migrate` (or close) may arrive: timers, the bus noticing. */
  readonly slackMs: number;
  start(): Promise<BusLossDeployment>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An upgrade the node refuses: its status, headers and JSON body. */
function refusedUpgrade(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, SUBPROTOCOL);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as unknown }));
    });
    ws.once('error', () => undefined);
  });
}

export function busLossSuite(name: string, setup: BusLossSetup): void {
  const hb = setup.heartbeatMs;
  const grace = 2 * hb;

  describe(`a node that loses its bus: ${name}`, () => {
    let dep: BusLossDeployment;
    let d: Deployment;
    const raws: TestClient[] = [];
    const clients: MeridianClient[] = [];

    beforeAll(async () => {
      dep = await setup.start();
      d = dep.d;
      // Nodes ask each other's state every heartbeat (at least every 500 ms): let them hear
      // every region at least twice before any bus goes.
      await sleep(2 * Math.max(500, hb) + 500);
    }, 120_000);
    afterEach(async () => {
      for (const r of raws.splice(0)) r.ws.terminate();
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    afterAll(async () => {
      await dep?.close();
    }, 60_000);

    async function raw(region: string, user: string): Promise<TestClient> {
      const c = await TestClient.dev(d.wsUrl(region), user);
      raws.push(c);
      return c;
    }

    /** When each frame type first reached `c` (performance.now), recorded as frames arrive. */
    function firstArrivals(c: TestClient): Map<string, number> {
      const at = new Map<string, number>();
      c.ws.on('message', (data: Buffer) => {
        const type = /"type"\s*:\s*"([a-z_]+)"/.exec(data.toString('utf8'))?.[1];
        if (type !== undefined && !at.has(type)) at.set(type, performance.now());
      });
      return at;
    }

    async function real(region: string, user: string): Promise<{ client: MeridianClient; messages: Message[]; statuses: ClientStatus[] }> {
      const client = new MeridianClient({ url: d.wsUrl(region), user, backoff: { initialMs: 100, maxMs: 1000 } });
      clients.push(client);
      const messages: Message[] = [];
      const statuses: ClientStatus[] = [];
      client.on('message', (m) => messages.push(m));
      client.on('status', (s) => statuses.push(s));
      await client.connected();
      return { client, messages, statuses };
    }

    /** A room homed outside `region`, so its messages flow while that region's bus is gone. */
    function roomAwayFrom(region: string, prefix: string): string {
      const placement = new ConversationPlacement(d.topology);
      for (let i = 0; ; i++) if (placement.homeOf(`room:${prefix}-${i}`) !== region) return `${prefix}-${i}`;
    }

    const post = (region: string, from: string, to: string, clientMsgId: string): Promise<Response> =>
      fetch(`${d.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { user: to }, body: 'hi', clientMsgId }), signal: AbortSignal.timeout(10_000) });

    /** Times (performance.now) at which the region's bus reported down and up, as the node sees it. */
    function busTimeline(region: string): { down: number[]; up: number[] } {
      const t = { down: [] as number[], up: [] as number[] };
      void (async () => {
        for await (const s of d.buses.buses.get(region)!.status()) {
          if (s.type === 'disconnected' || s.type === 'reconnecting') t.down.push(performance.now());
          else if (s.type === 'reconnected') t.up.push(performance.now());
          else if (s.type === 'closed') return;
        }
      })();
      return t;
    }

    it('moves its clients within two heartbeats, answers 503 meanwhile, and serves again once its bus is back', async () => {
      const victim = 'ap-southeast';
      const others = d.topology.regions.map((r) => r.name).filter((r) => r !== victim);
      const room = roomAwayFrom(victim, 'bl-room');
      const sender = await real('us-east', 'bl-sender');
      const mover = await real(victim, 'bl-mover');
      await mover.client.join(room);
      const stay = await raw(victim, 'bl-raw');
      const arrivals = firstArrivals(stay);
      await sender.client.send({ room }, 'before');
      await eventually(() => mover.messages.some((m) => m.body === 'before'), 'the mover to get the message sent before', 10_000);

      // /metrics answers without the bus: its bus series follow the outage.
      const metrics = async (): Promise<string> => (await fetch(`${d.urls[victim]}/metrics`)).text();
      const bus0 = await metrics();
      expect(value(bus0, 'meridian_bus_status', { status: 'connected' })).toBe(1);
      const busMoved = (text: string, name: string): number => value(text, name) - value(bus0, name);

      const timeline = busTimeline(victim);
      await dep.killBus(victim);
      await eventually(() => timeline.down.length > 0, 'the node to see its bus go', 5000);
      const downAt = timeline.down[0]!;

      // At once: not ready, alive, HTTP needing the bus answers 503 + Retry-After, new sockets refused.
      const t0 = performance.now();
      const res = await post(victim, 'bl-x', 'bl-y', 'bl-1');
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await res.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      const history = await fetch(`${d.urls[victim]}/v1/conversations/room:${room}/messages`);
      expect(history.status).toBe(503);
      expect(history.headers.get('retry-after')).not.toBeNull();
      const ready = await fetch(`${d.urls[victim]}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, reason: 'bus_disconnected' });
      expect((await fetch(`${d.urls[victim]}/health`)).status).toBe(200);
      const refused = await refusedUpgrade(d.wsUrl(victim));
      expect(refused.status).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      let down = '';
      await eventually(async () => value((down = await metrics()), 'meridian_bus_connected') === 0, 'meridian_bus_connected to be 0', 5000);
      expect(value(down, 'meridian_bus_status', { status: 'connected' })).toBe(0);
      expect(value(down, 'meridian_bus_status')).toBe(1); // exactly one state at a time
      expect(busMoved(down, 'meridian_bus_disconnects_total')).toBe(1);
      expect(busMoved(down, 'meridian_bus_reconnects_total')).toBe(0);

      // Two heartbeats after the node noticed: migrate to a region it last heard healthy.
      const m = await stay.find('migrate', () => true, grace + setup.slackMs + 2000);
      const at = arrivals.get('migrate')!;
      expect(at - downAt).toBeGreaterThanOrEqual(grace - 20);
      expect(at - downAt).toBeLessThan(grace + setup.slackMs);
      expect(m.reason).toBe('region_unavailable');
      expect(others).toContain(m.suggestedRegion);
      expect(m.url).toBe(d.wsUrl(m.suggestedRegion));
      expect(m.deadlineMs).toBeGreaterThan(0);
      // Make before break: the connection stays open and answered until the client leaves.
      expect(await stay.request({ type: 'heartbeat', id: 'hb-after-migrate' })).toMatchObject({ type: 'heartbeat' });

      // The real client follows: it is now served by another region and receives there.
      await eventually(() => mover.client.status.type === 'connected' && mover.client.status.region !== victim, 'the mover to be connected elsewhere', 10_000);
      expect(mover.statuses).toContainEqual(expect.objectContaining({ type: 'migrating', reason: 'region_unavailable' }));
      await sender.client.send({ room }, 'after');
      await eventually(() => mover.messages.some((msg) => msg.body === 'after'), 'the moved client to get a message sent after', 10_000);

      // A client that does not follow is closed 4505 at the deadline (a reconnect code).
      const closed = await stay.closed;
      expect(closed.code).toBe(CloseCode.REGION_UNAVAILABLE);
      expect(performance.now() - at).toBeGreaterThanOrEqual(m.deadlineMs - 100);

      // Back: ready again, accepts clients, and HTTP sends are served.
      await dep.reviveBus(victim);
      await dep.settle();
      await eventually(async () => (await fetch(`${d.urls[victim]}/ready`)).status === 200, 'the node to be ready again', 30_000);
      const again = await raw(victim, 'bl-again');
      expect(again.frames).toEqual([]);
      await eventually(async () => (await post(victim, 'bl-x', 'bl-y', 'bl-2')).status === 201, 'an HTTP send to be stored again', 30_000);
      // One outage: one disconnect, one reconnect, and the state set back on connected.
      const back = await metrics();
      expect(value(back, 'meridian_bus_connected')).toBe(1);
      expect(value(back, 'meridian_bus_status', { status: 'connected' })).toBe(1);
      expect(value(back, 'meridian_bus_status')).toBe(1);
      expect(busMoved(back, 'meridian_bus_disconnects_total')).toBe(1);
      expect(busMoved(back, 'meridian_bus_reconnects_total')).toBe(1);
    }, 90_000);

    it('closes its clients 4505 after two heartbeats when it knows no healthy region', async () => {
      const victim = 'eu-west';
      const c = await raw(victim, 'bl-alone');
      await dep.isolate(victim);
      const regions = async (): Promise<{ self: boolean; reachable: boolean }[]> => ((await (await fetch(`${d.urls[victim]}/v1/regions`)).json()) as { regions: { self: boolean; reachable: boolean }[] }).regions;
      await eventually(async () => (await regions()).every((r) => r.self || !r.reachable), 'the node to hear no other region', 15_000);
      // Long enough for its periodic refresh to have heard (nothing from) every region.
      await sleep(Math.max(500, hb) + 1500);
      const timeline = busTimeline(victim);
      await dep.killBus(victim);
      await eventually(() => timeline.down.length > 0, 'the node to see its bus go', 5000);
      const closed = await Promise.race([c.closed, sleep(grace + setup.slackMs + 2000).then(() => undefined)]);
      expect(closed?.code).toBe(CloseCode.REGION_UNAVAILABLE);
      const at = performance.now() - timeline.down[0]!;
      expect(at).toBeGreaterThanOrEqual(grace - 20);
      expect(at).toBeLessThan(grace + setup.slackMs);
      expect(c.frames.filter((f) => f.type === 'migrate')).toEqual([]);
      await dep.reviveBus(victim);
      await dep.heal(victim);
      await dep.settle();
      await eventually(async () => (await fetch(`${d.urls[victim]}/ready`)).status === 200, 'the node to be ready again', 30_000);
    }, 90_000);

    it('answers a send in flight 503 as soon as the bus goes, not after its timeout', async () => {
      const victim = 'eu-west';
      const room = roomAwayFrom(victim, 'bl-flight');
      const home = new ConversationPlacement(d.topology).homeOf(`room:${room}`);
      // The send waits on the room's home across a slow link: it is in flight when the bus goes.
      dep.setLatency(victim, home, 3000);
      try {
        const t0 = performance.now();
        const sending = fetch(`${d.urls[victim]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: 'bl-f', to: { room }, body: 'in flight', clientMsgId: 'bl-f1' }), signal: AbortSignal.timeout(15_000) });
        await sleep(300);
        const timeline = busTimeline(victim);
        await dep.killBus(victim);
        await eventually(() => timeline.down.length > 0, 'the node to see its bus go', 5000);
        const res = await sending;
        const answeredAt = performance.now();
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).not.toBeNull();
        expect(await res.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
        expect(answeredAt - timeline.down[0]!).toBeLessThan(500);
        expect(answeredAt - t0).toBeLessThan(3000);
      } finally {
        dep.setLatency(victim, home, dep.linkMs);
        await dep.reviveBus(victim);
      }
      await dep.settle();
      await eventually(async () => (await fetch(`${d.urls[victim]}/ready`)).status === 200, 'the node to be ready again', 30_000);
    }, 90_000);

    it('moves nobody for a blip shorter than two heartbeats', async () => {
      const victim = 'us-east';
      const c = await raw(victim, 'bl-blip-raw');
      const r = await real(victim, 'bl-blip-real');
      const seen = r.statuses.length;
      const timeline = busTimeline(victim);
      await dep.killBus(victim);
      await sleep(Math.min(hb / 2, 100));
      await dep.reviveBus(victim);
      await eventually(() => timeline.up.length > 0, 'the bus to be back', grace + 5000);
      const blip = timeline.up[0]! - timeline.down[0]!;
      expect(blip, 'the blip must be shorter than the grace for this test to mean anything').toBeLessThan(grace);
      // Well past when a longer outage would have moved them.
      await sleep(grace + setup.slackMs + hb);
      expect(c.frames.filter((f) => f.type === 'migrate')).toEqual([]);
      expect(await c.request({ type: 'heartbeat', id: 'hb-after-blip' })).toMatchObject({ type: 'heartbeat' });
      expect(r.statuses.slice(seen)).toEqual([]);
      expect(r.client.status).toMatchObject({ type: 'connected', region: victim });
      await dep.settle();
      await eventually(async () => (await fetch(`${d.urls[victim]}/ready`)).status === 200, 'the node to be ready', 30_000);
    }, 90_000);
  });
}
