/**
 * The registry's egress policy (docs/services.md, "Egress policy"): where worker URLs may point.
 * Unit tables for the rules; then through real nodes: refused registrations (loopback on a
 * production node, metadata and link-local everywhere), a name that resolves somewhere else at
 * call time (DNS rebinding, played by an injected resolver: no DNS server runs here) refused
 * before any byte reaches the worker, worker URLs at the node's own listener refused (literal at
 * registration, a name at connect time), and a loop through a forwarder stopped by Via after one
 * hop instead of a thousand. Per-region allow entries apply on their region's nodes only.
 */
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { EgressPolicy } from '../../src/services/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { TopologyError } from '../../src/topology/mod.js';
import { SECRET } from '../node/fixtures.js';

const topology = parseTopology('regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\n', '<egress>');
const WORKER = 'egress-worker-token-00000';
const ADMIN = 'egress-admin-token-000000';
const json = { 'content-type': 'application/json', authorization: `Bearer ${WORKER}` };

describe('egress rules', () => {
  it('refuses link-local and metadata always, loopback unless allowed, private unless listed', () => {
    const prod = new EgressPolicy({ allow: ['10.77.0.0/16', 'workers.internal', '*.svc.cluster.local'] });
    const dev = new EgressPolicy({ allowLoopback: true });
    const only = new EgressPolicy({ allow: ['203.0.113.0/24'], only: true });
    const table: Array<[EgressPolicy, string, boolean]> = [
      [prod, '169.254.169.254', false],
      [dev, '169.254.169.254', false],
      [prod, 'fd00:ec2::254', false],
      [prod, 'metadata.google.internal', false],
      [prod, '0.0.0.0', false],
      [prod, '127.0.0.1', false],
      [prod, '::1', false],
      [prod, 'localhost', false],
      [dev, '127.0.0.1', true],
      [dev, 'localhost', true],
      [prod, '10.77.3.4', true],
      [prod, '10.78.0.1', false],
      [prod, '192.168.1.1', false],
      [prod, '::ffff:10.77.0.9', true],
      [prod, '::ffff:127.0.0.1', false],
      [prod, '198.51.100.7', true],
      [only, '198.51.100.7', false],
      [only, '203.0.113.9', true],
      [prod, 'api.example.com', true],
      [only, 'api.example.com', false],
    ];
    for (const [policy, host, ok] of table) expect(policy.host(host).ok, host).toBe(ok);
    // A listed name may resolve into a private range (an overlay worker named in DNS).
    expect(prod.address('10.99.0.1', 'db.svc.cluster.local').ok).toBe(true);
    expect(prod.address('10.99.0.1', 'db.example.com').ok).toBe(false);
  });

  it('adds a region\'s own allow entries on that region\'s nodes only', () => {
    const regions = { 'eu-west': { allow: ['10.1.0.0/16'] }, 'us-east': { allow: ['*.us.internal'] } };
    const eu = new EgressPolicy({ allow: ['10.77.0.0/16'], regions, region: 'eu-west' });
    const us = new EgressPolicy({ allow: ['10.77.0.0/16'], regions, region: 'us-east' });
    expect([eu.host('10.1.2.3').ok, eu.host('10.77.0.1').ok, eu.address('10.2.0.1', 'db.us.internal').ok]).toEqual([true, true, false]);
    expect([us.host('10.1.2.3').ok, us.host('10.77.0.1').ok, us.address('10.2.0.1', 'db.us.internal').ok]).toEqual([false, true, true]);
    // A region listed nowhere has the global list; a region named like an Object member finds no entry of Object's.
    expect(new EgressPolicy({ regions, region: 'constructor' }).host('10.1.2.3').ok).toBe(false);
  });

  it('takes per-region entries from the topology, checked like egress.allow and against the regions', () => {
    const regions = 'regions:\n  - name: eu-west\n    location: { lat: 53, lon: -6 }\n    jurisdiction: EU\n';
    const t = parseTopology(`${regions}egress:\n  allow: [10.77.0.0/16]\n  regions:\n    eu-west: { allow: [10.1.0.0/16, "*.eu.internal"] }\n`);
    expect(t.egress.regions).toEqual({ 'eu-west': { allow: ['10.1.0.0/16', '*.eu.internal'] } });
    expect(new EgressPolicy({ ...t.egress, region: 'eu-west' }).host('10.1.0.9').ok).toBe(true);
    let problems: Array<{ path: string; message: string }> = [];
    try {
      parseTopology(`${regions}egress:\n  regions:\n    eu-west: { allow: [10.1.0.0/99] }\n    mars: { allow: [] }\n`, 'm.yaml');
    } catch (err) {
      problems = (err as TopologyError).problems.map((p) => ({ path: p.path, message: p.message }));
    }
    expect(problems).toEqual([
      { path: 'egress.regions.eu-west.allow[0]', message: '"10.1.0.0/99" is not a CIDR' },
      { path: 'egress.regions.mars', message: 'unknown region "mars" in egress.regions (known: eu-west)' },
    ]);
  });

  it('refuses the region nodes\' listeners by address and port, whatever else allows', async () => {
    const listeners = [{ host: '127.0.0.1', port: 7701 }, { host: '0.0.0.0', port: 7702 }, { host: 'eu-west.internal', port: 7703 }, { host: '10.77.0.5', port: 7704 }];
    const answers: Record<string, LookupAddress[]> = { localhost: [{ address: '127.0.0.1', family: 4 }], 'alias.test': [{ address: '10.77.0.5', family: 4 }] };
    const resolve = ((host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => cb(null, answers[host] ?? [])) as never;
    const p = new EgressPolicy({ allow: ['10.77.0.0/16'], allowLoopback: true, listeners: () => listeners, resolve });
    const table: Array<[string, number, boolean]> = [
      ['127.0.0.1', 7701, false],
      ['127.0.0.1', 7799, true], // a worker on the node's host, another port
      ['::ffff:127.0.0.1', 7701, false],
      ['127.0.0.9', 7702, false], // bound to every interface: all of loopback answers
      ['127.0.0.9', 7701, true],
      ['EU-West.internal.', 7703, false],
      ['eu-west.internal', 80, true],
      ['10.77.0.5', 7704, false],
      ['10.77.0.6', 7704, true],
    ];
    for (const [host, port, ok] of table) expect(p.endpoint(host, port).ok, `${host}:${port}`).toBe(ok);
    const lookup = (host: string, port?: number): Promise<string> =>
      new Promise((res, rej) => p.lookupFor(port)(host, {}, (err, address) => (err ? rej(err) : res(address as string))));
    // Names resolve at connect time, so the listener is found by the address and the port together.
    await expect(lookup('localhost', 7701)).rejects.toMatchObject({ code: 'EMERIDIANEGRESS', message: "egress to localhost refused: 127.0.0.1:7701 is a region node's own listener" });
    await expect(lookup('alias.test', 7704)).rejects.toMatchObject({ code: 'EMERIDIANEGRESS' });
    await expect(lookup('localhost', 7799)).resolves.toBe('127.0.0.1');
    await expect(lookup('alias.test', 7705)).resolves.toBe('10.77.0.5');
  });

  it('checks every address a name resolves to at connect time', async () => {
    const answers: Record<string, LookupAddress[]> = {
      'rebind.test': [{ address: '198.51.100.7', family: 4 }, { address: '169.254.169.254', family: 4 }],
      'fine.test': [{ address: '198.51.100.7', family: 4 }],
    };
    const resolve = ((host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => cb(null, answers[host] ?? [])) as never;
    const p = new EgressPolicy({ resolve });
    const lookup = (host: string): Promise<string> =>
      new Promise((res, rej) => p.lookup(host, {}, (err, address) => (err ? rej(err) : res(address as string))));
    await expect(lookup('rebind.test')).rejects.toMatchObject({ code: 'EMERIDIANEGRESS' });
    await expect(lookup('fine.test')).resolves.toBe('198.51.100.7');
  });
});

describe('egress through real nodes', () => {
  let prod: Deployment;
  let dev: Deployment;
  let worker: Server;
  let workerPort: number;
  let hits = 0;
  beforeAll(async () => {
    worker = createServer((_req, res) => {
      hits++;
      res.end('worker');
    });
    await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r));
    workerPort = (worker.address() as AddressInfo).port;
    // Production: loopback refused; `rebind.test` resolves to the loopback worker at call time.
    const resolve = ((_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }])) as never;
    prod = await startEmbeddedDeployment(topology, { dataDir: ':memory:', region: { node: { auth: { hs256Secret: SECRET }, adminToken: ADMIN }, modules: servicesModules(WORKER, { egress: { resolve } }) } });
    dev = await startEmbeddedDeployment(topology, { dataDir: ':memory:', region: { node: { auth: { dev: true }, adminToken: ADMIN }, modules: servicesModules(WORKER, { egress: { allowLoopback: true } }) } });
  });
  afterAll(async () => {
    await prod?.close();
    await dev?.close();
    await new Promise((r) => worker?.close(r));
  });

  it('refuses registrations of loopback (production), link-local and metadata URLs with every problem', async () => {
    const url = prod.urls['solo']!;
    const body = { id: 'ssrf', services: [{ name: 'a', url: `http://127.0.0.1:${workerPort}` }, { name: 'b', url: 'http://169.254.169.254/latest/meta-data/' }, { name: 'c', url: 'http://metadata.google.internal/' }, { name: 'd', url: 'http://[::1]:80/' }] };
    const res = await fetch(`${url}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { code: string; details: { problems: Array<{ path: string }> } } }).error;
    expect(err.code).toBe('SVC_INVALID_REGISTRATION');
    expect(err.details.problems.map((p) => p.path)).toEqual(['services[0].url', 'services[1].url', 'services[2].url', 'services[3].url']);
    // Link-local is refused in dev mode too.
    const devRes = await fetch(`${dev.urls['solo']}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'meta', services: [{ name: 'b', url: 'http://169.254.169.254/' }] }) });
    expect(devRes.status).toBe(400);
  });

  it('refuses at connect time a name that resolves to a refused address (rebinding): the worker sees nothing', async () => {
    const url = prod.urls['solo']!;
    const reg = await fetch(`${url}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'rebinder', services: [{ name: 'rebound', url: `http://rebind.test:${workerPort}` }] }) });
    expect(reg.status).toBe(201);
    const before = hits;
    const call = await fetch(`${url}/v1/services/rebound/x`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(call.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(await call.json())).toContain('egress to rebind.test refused');
    expect(hits).toBe(before);
  });

  it('refuses a worker URL at the node\'s own listener: literally at registration, by name at connect time', async () => {
    const url = dev.urls['solo']!;
    const port = Number(new URL(url).port);
    const reg = await fetch(`${url}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'self', services: [{ name: 'self', url: `${url}/v1/services/self` }, { name: 'self6', url: `http://[::ffff:127.0.0.1]:${port}/` }] }) });
    expect(reg.status).toBe(400);
    const err = ((await reg.json()) as { error: { code: string; details: { problems: Array<{ path: string; message: string }> } } }).error;
    expect(err.details.problems).toEqual([
      { path: 'services[0].url', message: `refused by the egress policy: 127.0.0.1:${port} is a region node's own listener` },
      { path: 'services[1].url', message: `refused by the egress policy: 127.0.0.1:${port} is a region node's own listener` },
    ]);
    // A name is not resolved at registration; it resolves to the listener when called, and is refused then.
    expect((await fetch(`${url}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'self-named', services: [{ name: 'self-named', url: `http://localhost:${port}/v1/services/self-named` }] }) })).status).toBe(201);
    const call = await fetch(`${url}/v1/services/self-named/x`);
    expect(call.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(await call.json())).toContain(`egress to localhost refused: 127.0.0.1:${port} is a region node's own listener`);
  });

  it('stops a loop through something that forwards back to the node (an edge, a proxy) after one hop (Via)', async () => {
    const url = dev.urls['solo']!;
    // Forwards every request to the node's /v1/services/loop/… with its headers, as an edge would.
    const forwarder = createServer((req, res) => {
      const up = request(`${url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => forwarder.listen(0, '127.0.0.1', r));
    try {
      const fport = (forwarder.address() as AddressInfo).port;
      const reg = await fetch(`${url}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'looper', services: [{ name: 'loop', url: `http://127.0.0.1:${fport}/v1/services/loop` }] }) });
      expect(reg.status).toBe(201);
      const res = await fetch(`${url}/v1/services/loop/x`);
      const body = (await res.json()) as { error?: { code: string } };
      // The second pass is refused with 508; the outer call passes it on (or reports the worker's failure).
      expect([502, 508]).toContain(res.status);
      expect(JSON.stringify(body)).toMatch(/SVC_LOOP_DETECTED|508/);
    } finally {
      await new Promise((r) => forwarder.close(r));
    }
    // A normal loopback worker still works in dev mode.
    await fetch(`${url}/v1/workers`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'ok', services: [{ name: 'fine', url: `http://127.0.0.1:${workerPort}` }] }) });
    const fine = await fetch(`${url}/v1/services/fine/`);
    expect(fine.status).toBe(200);
    expect(await fine.text()).toBe('worker');
  });
});
