// A region node behind a real proxy hop (the Meridian edge, in-process) counts each client by its
// own address, taken from X-Forwarded-For because the edge is a trusted proxy: two clients behind
// the one edge have separate HTTP and upgrade budgets, even with the same credential, and the
// audit trail names each client, not the edge. A client forging X-Forwarded-For is still counted
// by its own address, whether it talks to the node directly or through the edge.
//
// Clients bind distinct loopback addresses (127.0.0.2, 127.0.0.3, …; Linux routes all of 127/8),
// so "two clients" are two addresses, as on the Internet; the edge reaches the node from 127.0.0.1.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { SUBPROTOCOL } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { value } from '../observability/prom.js';
import { eventually } from './client.js';
import { SECRET, hsToken, oneRegion } from './fixtures.js';

const ADMIN = 'admin-token-for-client-address-tests';

interface Stack {
  d: Deployment;
  edge: Edge;
  node: string;
}

/**
 * One region with tiny budgets (3 HTTP requests and 2 upgrades per client, refilled once per
 * 20 s: nothing refills during a test, however slow the machine) and an edge in front of it.
 */
async function stack(topology: Topology): Promise<Stack> {
  const d = await startEmbeddedDeployment(topology, {
    dataDir: ':memory:',
    region: { node: { auth: { hs256Secret: SECRET }, adminToken: ADMIN, httpRateLimit: { ratePerSec: 0.05, burst: 3 }, upgradeRateLimit: { ratePerSec: 0.05, burst: 2 } } },
  });
  const edge = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false });
  // The edge steers only to a region its probes found healthy.
  await eventually(async () => ((await (await fetch(`${edge.url}/v1/route`)).json()) as { region: string | null }).region === 'solo', 'the edge to see the region', 10_000);
  return { d, edge, node: d.urls['solo']! };
}

/** GET `url` from the local address `from` on a connection of its own; its status. */
function get(url: string, from: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Statuses of `n` GETs in a row. */
async function gets(n: number, url: string, from: string, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await get(url, from, headers));
  return out;
}

const sockets: WebSocket[] = [];

/** A WebSocket upgrade to `base`/ws from `from`: 101 when it opened, else the refusal's status. */
function upgrade(base: string, from: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, SUBPROTOCOL, { localAddress: from, headers });
    sockets.push(ws);
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', () => resolve(0));
  });
}

const refusedUpgrades = async (node: string): Promise<number> => value(await (await fetch(`${node}/metrics`)).text(), 'meridian_rate_limited_total', { scope: 'http' });

interface Entry {
  action: string;
  target?: string;
  from?: string;
}

async function auditEntries(node: string): Promise<Entry[]> {
  const res = await fetch(`${node}/v1/audit?action=auth.refused&limit=100`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await res.json()) as { entries: Entry[] }).entries;
}

const stacks: Stack[] = [];
afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  for (const s of stacks) {
    await s.edge.close();
    await s.d.close();
  }
});

describe('client address - behind the edge (default trust: loopback)', () => {
  let s: Stack;
  let alice: Record<string, string>;
  beforeAll(async () => {
    s = await stack(oneRegion());
    stacks.push(s);
    alice = { authorization: `Bearer ${await hsToken({ sub: 'alice' })}` };
  }, 30_000);

  it('two clients behind the edge have separate HTTP budgets, with the same credential', async () => {
    const url = `${s.edge.url}/v1/presence/bob`;
    expect(await gets(4, url, '127.0.0.2', alice)).toEqual([200, 200, 200, 429]);
    // Keyed by the edge's address, the second client would be refused at once.
    expect(await gets(3, url, '127.0.0.3', alice)).toEqual([200, 200, 200]);
    // The node counted the first client as itself: directly, too, its budget is spent.
    expect(await get(`${s.node}/v1/presence/bob`, '127.0.0.2', alice)).toBe(429);
  });

  it('two clients behind the edge have separate upgrade budgets', async () => {
    const before = await refusedUpgrades(s.node);
    const first = [await upgrade(s.edge.url, '127.0.0.4'), await upgrade(s.edge.url, '127.0.0.4'), await upgrade(s.edge.url, '127.0.0.4')];
    expect(first.slice(0, 2)).toEqual([101, 101]);
    // The node refused the third (429, counted); the edge answers the client for it.
    expect(first[2]).not.toBe(101);
    expect((await refusedUpgrades(s.node)) - before).toBe(1);
    expect([await upgrade(s.edge.url, '127.0.0.5'), await upgrade(s.edge.url, '127.0.0.5')]).toEqual([101, 101]);
    expect((await refusedUpgrades(s.node)) - before).toBe(1);
  });

  it('the audit trail names the client behind the edge, over HTTP and WebSocket', async () => {
    expect(await get(`${s.edge.url}/v1/presence/bob`, '127.0.0.6', { authorization: 'Bearer not-a-valid-token' })).toBe(401);
    const ws = new WebSocket(`${s.edge.url.replace(/^http/, 'ws')}/ws`, SUBPROTOCOL, { localAddress: '127.0.0.7' });
    sockets.push(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', id: 'a', token: 'not-a-valid-token' })));
      ws.once('close', () => resolve());
      ws.once('error', reject);
    });
    let entries: Entry[] = [];
    await eventually(async () => (entries = await auditEntries(s.node)).some((e) => e.target === 'websocket'), 'the refusals in the audit trail');
    expect(entries.find((e) => e.target === '/v1/presence/bob')?.from).toBe('127.0.0.6');
    expect(entries.find((e) => e.target === 'websocket')?.from).toBe('127.0.0.7');
    expect(entries.map((e) => e.from)).not.toContain('127.0.0.1');
  });
});

describe('client address - forged X-Forwarded-For (trustedProxies: the edge\'s address only)', () => {
  let s: Stack;
  let alice: Record<string, string>;
  beforeAll(async () => {
    // From the topology: only 127.0.0.1 (where the edge connects from) is a proxy; the clients'
    // 127.0.0.x addresses are not, as clients elsewhere would not be.
    const topology = parseTopology('regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\ntrustedProxies: ["127.0.0.1"]\n', '<forged>');
    s = await stack(topology);
    stacks.push(s);
    alice = { authorization: `Bearer ${await hsToken({ sub: 'alice' })}` };
  }, 30_000);

  it('a direct client forging the header is limited by its own address and spends no one else\'s budget', async () => {
    const url = `${s.node}/v1/presence/bob`;
    // Claiming to be the victim, then a new address on every request: all of it is 127.0.0.8.
    const forged = ['127.0.0.9', '198.51.100.1', '198.51.100.2', '127.0.0.9, 198.51.100.3'];
    const statuses: number[] = [];
    for (const xff of forged) statuses.push(await get(url, '127.0.0.8', { ...alice, 'x-forwarded-for': xff }));
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await gets(3, url, '127.0.0.9', alice)).toEqual([200, 200, 200]);
  });

  it('a direct client forging the header is limited by its own address for upgrades too', async () => {
    const statuses = [];
    for (const xff of ['127.0.0.13', '198.51.100.4', '198.51.100.5']) statuses.push(await upgrade(s.node, '127.0.0.12', { 'x-forwarded-for': xff }));
    expect(statuses).toEqual([101, 101, 429]);
    expect([await upgrade(s.node, '127.0.0.13'), await upgrade(s.node, '127.0.0.13')]).toEqual([101, 101]);
  });

  it('through the edge, what a client writes left of the edge\'s hop is ignored', async () => {
    const url = `${s.edge.url}/v1/presence/bob`;
    const statuses: number[] = [];
    for (const xff of ['127.0.0.11', '198.51.100.6', '198.51.100.7', '198.51.100.8']) statuses.push(await get(url, '127.0.0.10', { ...alice, 'x-forwarded-for': xff }));
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await gets(3, url, '127.0.0.11', alice)).toEqual([200, 200, 200]);
  });
});
