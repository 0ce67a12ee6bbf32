// `POST /v1/admin/regions/{name}/drain` on an edge without a drain hook, in front of a fake node:
// the edge asks the node (forwarding the operator's credential) and holds the region's `draining`
// mark until it is back. A node that restarts in place faster than the probes notice must not be
// shown `ready` (the monitor's stale state) before another node id answers, ready; a bare node
// (200 `drained`) is shown `draining` until the monitor sees it down, never `ready` in between.
// Meanwhile /v1/candidates does not offer the region. (The e2e twin with a real region runtime is
// in test/e2e/rolling-drain-mbb.test.ts.)
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { three } from './fixtures.js';
import { eventually, standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

const TOKEN = 'drain-no-hook-admin-token-000000';

/** A region node as the edge sees it: /health with its id, /ready, POST /v1/admin/drain. */
class FakeNode {
  id = 'node-1';
  ready = true;
  /** `restart`: 202, then not ready, then another id and ready after `restartMs`. `bare`: drain, 200, stay not ready. `stuck`: 202 and never back. */
  mode: 'restart' | 'bare' | 'stuck' = 'restart';
  /** The drain deadline the node's answer states (none: an older node). */
  deadlineMs: number | undefined;
  restartMs = 150;
  readonly drainAuth: (string | undefined)[] = [];
  #server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const path = req.url?.split('?')[0];
      if (path === '/health') return json(200, { status: 'ok', node: this.id });
      if (path === '/ready') return json(this.ready ? 200 : 503, { ready: this.ready, node: this.id });
      if (path === '/v1/admin/drain' && req.method === 'POST') {
        this.drainAuth.push(req.headers.authorization);
        this.ready = false;
        const deadline = this.deadlineMs === undefined ? {} : { deadlineMs: this.deadlineMs };
        if (this.mode === 'bare') return json(200, { drained: true, node: this.id, sessions: 0, ...deadline });
        json(202, { draining: true, restarting: true, node: this.id, sessions: 0, ...deadline });
        if (this.mode === 'stuck') return;
        setTimeout(() => {
          this.id = 'node-2';
          this.ready = true;
        }, this.restartMs);
        return;
      }
      json(404, {});
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

let others: Record<string, StandIn>;
let node: FakeNode;
let edge: Edge | undefined;

beforeAll(async () => {
  others = await standIns(['us-east', 'eu-west']);
});
afterAll(async () => {
  await Promise.all(Object.values(others ?? {}).map((r) => r.stop()));
});
afterEach(async () => {
  await edge?.close();
  edge = undefined;
  await node?.stop();
});

async function startWith(mode: 'restart' | 'bare' | 'stuck', probe: { intervalMs: number; timeoutMs: number }, tune: { deadlineMs?: number; drainSettleMs?: number } = {}): Promise<Edge> {
  node = new FakeNode();
  node.mode = mode;
  node.deadlineMs = tune.deadlineMs;
  await node.start();
  edge = await startEdge({ topology: three, regionUrls: { ...urlsOf(others), 'ap-southeast': node.url }, port: 0, geoip: null, rateLimit: false, adminToken: TOKEN, probe, ...(tune.drainSettleMs === undefined ? {} : { drainSettleMs: tune.drainSettleMs }) });
  await eventually(() => (edge!.monitor.health('ap-southeast').healthy ? true : undefined));
  return edge;
}

/** Poll /v1/candidates then /v1/regions until ap-southeast's state is `until`; every reading, with the node id then. */
async function record(e: Edge, until: string): Promise<{ state: string; node: string; offered: boolean }[]> {
  const seen: { state: string; node: string; offered: boolean }[] = [];
  await eventually(async () => {
    const list = (await (await fetch(`${e.url}/v1/candidates`)).json()) as { candidates: { region: string }[] };
    const body = (await (await fetch(`${e.url}/v1/regions`)).json()) as { regions: { name: string; state: string }[] };
    const state = body.regions.find((r) => r.name === 'ap-southeast')?.state ?? 'missing';
    seen.push({ state, node: node.id, offered: list.candidates.some((c) => c.region === 'ap-southeast') });
    return state === until ? true : undefined;
  }, 10_000, 10);
  return seen;
}

const changes = (seen: { state: string }[]): string[] => seen.map((x) => x.state).filter((x, i, all) => i === 0 || x !== all[i - 1]);

async function drain(e: Edge): Promise<{ status: number; state: string }> {
  const res = await fetch(`${e.url}/v1/admin/regions/ap-southeast/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, state: ((await res.json()) as { state: string }).state };
}

describe('drain without a hook', () => {
  it('holds draining through a restart faster than the probes notice, until another node id is ready', async () => {
    // Down takes 2 failed probes 500 ms apart: a 150 ms restart is never seen by the monitor.
    const e = await startWith('restart', { intervalMs: 500, timeoutMs: 400 });
    expect(await drain(e)).toEqual({ status: 202, state: 'draining' });
    const seen = await record(e, 'ready');
    expect(changes(seen)).toEqual(['draining', 'ready']);
    for (const x of seen.filter((y) => y.state === 'ready')) expect(x.node).toBe('node-2');
    expect(seen.filter((x) => x.state === 'draining' && x.offered)).toEqual([]);
    // The node saw the operator's credential.
    expect(node.drainAuth).toEqual([`Bearer ${TOKEN}`]);
  });

  it('a bare node that stays drained is shown draining until the monitor sees it down, never ready', async () => {
    const e = await startWith('bare', { intervalMs: 100, timeoutMs: 80 });
    expect(await drain(e)).toEqual({ status: 202, state: 'draining' });
    const seen = await record(e, 'down');
    expect(changes(seen)).toEqual(['draining', 'down']);
    expect(seen.filter((x) => x.state === 'draining' && x.offered)).toEqual([]);
    expect(e.monitor.health('ap-southeast').healthy).toBe(false);
  });

  it("waits for a node that never comes back only as long as the node's own drain deadline says, then drops the mark", async () => {
    // The node states a 300 ms deadline (the default is 30 s): the drain fails after 300 ms plus
    // the 200 ms settle time, and the region goes from draining to down.
    const e = await startWith('stuck', { intervalMs: 100, timeoutMs: 80 }, { deadlineMs: 300, drainSettleMs: 200 });
    expect(await drain(e)).toEqual({ status: 202, state: 'draining' });
    const seen = await record(e, 'down');
    expect(changes(seen)).toEqual(['draining', 'down']);
  });
});
