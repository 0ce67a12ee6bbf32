// The node's route table (src/node/routes/mod.ts) and lifecycle state (src/node/lifecycle.ts) on
// their own: which route a path and method reach, what is public (before the rate limit) and
// what needs the bus, and the lifecycle's transitions and /ready reasons. The requests
// themselves are tested against running nodes (http.test.ts, keys, drain, bus-loss …).
import { describe, expect, it } from 'vitest';
import type { HttpModule } from '../../src/module/http-module.js';
import { Lifecycle } from '../../src/node/lifecycle.js';
import { findRoute, ROUTES } from '../../src/node/routes/mod.js';
import type { Route } from '../../src/node/routes/mod.js';

const pathOf = (r: Route | undefined): string | undefined => (r === undefined ? undefined : String(r.path));

describe('route table', () => {
  it('sends each endpoint to its route, with the path segments as params', () => {
    expect(findRoute('/health', 'GET')?.route.path).toBe('/health');
    expect(findRoute('/v1/messages', 'POST')?.route.path).toBe('/v1/messages');
    expect(findRoute('/v1/presence/ann', 'GET')?.params).toEqual(['ann']);
    expect(findRoute('/v1/rooms/team%2D1/presence', 'GET')?.params).toEqual(['team%2D1']);
    expect(findRoute('/v1/conversations/dm:ann:bob/messages', 'GET')?.params).toEqual(['dm:ann:bob']);
    expect(findRoute('/v1/erasures/er_1', 'GET')).toBeDefined();
    expect(findRoute('/v1/erasures/a/b', 'GET')).toBeDefined(); // its 404 is the erasure route's (after its 501)
    expect(findRoute('/v1/erasuresx', 'GET')).toBeUndefined();
  });

  it('leaves other paths to the modules: deeper paths, services, unknown ones', () => {
    for (const p of ['/v1/presence/a/b', '/v1/rooms//presence', '/v1/services', '/v1/workers', '/v1/nope', '/v2/x', '/healthz']) {
      expect(pathOf(findRoute(p, 'GET')?.route), p).toBeUndefined();
    }
  });

  it('gives / to the demo page for GET and HEAD only (another method is no route: 404)', () => {
    expect(findRoute('/', 'GET')).toBeDefined();
    expect(findRoute('/', 'HEAD')).toBeDefined();
    expect(findRoute('/', 'POST')).toBeUndefined();
    // Elsewhere another method reaches the route, which answers 405.
    expect(findRoute('/v1/messages', 'GET')?.route.methods).toEqual(['POST']);
  });

  it('serves health, readiness, the demo page and observability before the rate limit, nothing else', () => {
    const open = ROUTES.filter((r) => r.public === true).map((r) => r.path);
    expect(open).toEqual(['/health', '/ready', '/', '/metrics', '/stats', '/v1/slo']);
  });

  it('needs the bus for messages, presence and history; not for regions, audit, erasure or drain', () => {
    const needs = ROUTES.filter((r) => r.needsBus === true).map((r) => String(r.path));
    expect(needs).toHaveLength(4);
    expect(findRoute('/v1/messages', 'POST')?.route.needsBus).toBe(true);
    expect(findRoute('/v1/conversations/room:x/messages', 'GET')?.route.needsBus).toBe(true);
    for (const p of ['/v1/regions', '/v1/audit', '/v1/erasures', '/v1/admin/drain']) expect(findRoute(p, 'GET')?.route.needsBus, p).not.toBe(true);
  });

  it('has no two routes that could take the same path', () => {
    const strings = ROUTES.map((r) => r.path).filter((p): p is string => typeof p === 'string');
    expect(new Set(strings).size).toBe(strings.length);
    for (const r of ROUTES) {
      if (typeof r.path === 'string') continue;
      for (const s of strings) expect(r.path.test(s), `${String(r.path)} vs ${s}`).toBe(false);
    }
  });
});

describe('lifecycle', () => {
  const module = (ready: boolean): HttpModule => ({ name: 'm', handle: () => false, ready: () => ready });

  it('is ready when serving with the bus up and every module ready, and says why not', () => {
    let moduleReady = true;
    const life = new Lifecycle([{ name: 'm', handle: () => false, ready: () => moduleReady }]);
    expect(life.ready()).toBe(true);
    expect(life.notReadyReason()).toBeUndefined();
    moduleReady = false;
    expect([life.ready(), life.notReadyReason()]).toEqual([false, 'module_not_ready']);
    moduleReady = true;
    life.setBusUp(false);
    expect([life.ready(), life.notReadyReason(), life.accepting]).toEqual([false, 'bus_disconnected', true]);
    life.setBusUp(true);
    expect(life.startDrain()).toBe(true);
    expect(life.startDrain()).toBe(false);
    expect([life.ready(), life.notReadyReason(), life.accepting, life.draining]).toEqual([false, 'draining', false, true]);
  });

  it('goes down and up again, but not once closed; closing is draining for good', () => {
    const life = new Lifecycle([module(true)]);
    expect(life.canBringUp).toBe(false);
    expect(life.takeDown()).toBe(true);
    expect(life.takeDown()).toBe(false);
    expect([life.down, life.accepting, life.ready(), life.canBringUp]).toEqual([true, false, false, true]);
    life.broughtUp();
    expect([life.down, life.ready()]).toEqual([false, true]);
    life.close();
    expect([life.closed, life.draining, life.ready(), life.takeDown()]).toEqual([true, true, false, false]);
    expect(life.canBringUp).toBe(false);
  });
});
