// Log lines carry the trace ids of the operation they are about (docs/observability.md, "Logs"):
// every node's and the edge's lines go to one in-memory pino destination, spans to an in-memory
// exporter behind a registered SDK, on a real embedded deployment with an edge in front. A send
// failing on our side (its home cut off) and a local send whose copy fails (its replica cut off)
// log lines whose traceId is their meridian.send span's; a line logged inside an application span
// (with a context manager) carries that span's ids; the edge logs a region taken down and back.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Context, ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { createLogger, setDefaultLogDestination, setDefaultLogLevel } from '../../src/observability/logger.js';
import { NodeMetrics } from '../../src/observability/metrics.js';
import { waitFor } from '../e2e/helpers.js';

type Line = Record<string, unknown> & { event?: string; traceId?: string; spanId?: string };

/** A pino destination keeping every line, parsed. */
const lines: Line[] = [];
const sink = {
  write(chunk: string): void {
    for (const l of chunk.split('\n')) if (l !== '') lines.push(JSON.parse(l) as Line);
  },
};

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const TOKEN = 'logs-test-token';
// No takeover within the test: a cut-off home must stay the home (its sends fail).
const topology = { ...defaultTopology(), replication: { ...defaultTopology().replication, failoverAfterMs: 600_000 } };
const placement = new ConversationPlacement(topology);

/** A peer of `from` whose direct conversation with it is homed in `home` (and copied to `replica`, if given). */
function peer(from: string, home: string, replica?: string): string {
  for (let i = 0; ; i++) {
    const c = dmConversation(from, `lg-peer${i}`);
    if (placement.homeOf(c) === home && (replica === undefined || placement.replicasOf(c)[0] === replica)) return `lg-peer${i}`;
  }
}

let d: Deployment;
let edge: Edge;

const post = (region: string, from: string, to: string, id: string): Promise<Response> =>
  fetch(`${d.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { user: to }, body: id, clientMsgId: id }) });
const sendSpans = (pred: (s: ReadableSpan) => boolean): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === 'meridian.send' && pred(s));
const linesOf = (event: string, pred: (l: Line) => boolean = () => true): Line[] => lines.filter((l) => l.event === event && pred(l));

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  setDefaultLogLevel('info');
  setDefaultLogDestination(sink);
  d = await startEmbeddedDeployment(topology, { dataDir: ':memory:' });
  edge = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false, adminToken: TOKEN, onRegionDown: (r) => d.takeDown(r), onRegionUp: (r) => d.bringUp(r) });
}, 60_000);
afterAll(async () => {
  await edge?.close();
  await d?.close();
  setDefaultLogDestination(undefined);
  await provider.shutdown();
  trace.disable();
});

describe('log lines and traces', () => {
  it('a send failing on our side (home cut off): the send_failed line carries its meridian.send span\'s trace and span ids', async () => {
    const to = peer('lg-a', 'ap-southeast');
    exporter.reset();
    d.network!.kill('ap-southeast');
    try {
      expect((await post('us-east', 'lg-a', to, 'f1')).status).toBeGreaterThanOrEqual(500);
    } finally {
      d.network!.revive('ap-southeast');
    }
    const [line] = linesOf('send_failed', (l) => l.region === 'us-east');
    expect(line).toMatchObject({ level: 40, code: 'MSG_UNAVAILABLE' });
    const [span] = sendSpans((s) => s.attributes['meridian.region'] === 'us-east' && s.status.code === SpanStatusCode.ERROR);
    expect(span, 'the failed meridian.send span is exported').toBeDefined();
    expect(span!.attributes['meridian.home']).toBe('ap-southeast');
    expect(line!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(line!.traceId).toBe(span!.spanContext().traceId);
    expect(line!.spanId).toBe(span!.spanContext().spanId);
  });

  it('a local send whose copy fails (replica cut off): replication_behind carries the send\'s trace; the retries run on their own, without it', async () => {
    const to = peer('lg-b', 'us-east', 'eu-west');
    const conversation = dmConversation('lg-b', to);
    exporter.reset();
    d.network!.kill('eu-west');
    try {
      // Acked as local at once: the copy runs behind the ack.
      expect((await post('us-east', 'lg-b', to, 'r1')).status).toBe(201);
      await waitFor(() => linesOf('replication_behind', (l) => l.conversation === conversation).length >= 2, 'the failed copy and its first retry logged', 10_000, 50);
    } finally {
      d.network!.revive('eu-west');
    }
    const [first, retry] = linesOf('replication_behind', (l) => l.conversation === conversation);
    expect(first).toMatchObject({ level: 40, region: 'us-east', replica: 'eu-west' });
    const [span] = sendSpans((s) => s.attributes['meridian.region'] === 'us-east');
    expect(span, 'the meridian.send span is exported').toBeDefined();
    expect(first!.traceId).toBe(span!.spanContext().traceId);
    expect(retry!.traceId).toBeUndefined();
  });

  it('a line logged inside an application span (a context manager registered) carries that span\'s ids; one outside carries none', () => {
    const als = new AsyncLocalStorage<Context>();
    const manager: ContextManager = {
      active: () => als.getStore() ?? ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => als.run(ctx, () => fn.call(thisArg, ...args)),
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
    context.setGlobalContextManager(manager);
    try {
      const m = new NodeMetrics({ region: 'us-east', node: 'n1', regions: ['us-east'], log: createLogger({ destination: sink, base: { node: 'ctx-test' } }) });
      const span = trace.getTracer('app').startSpan('app.request');
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => m.authFailed('invalid', 'http'));
      m.authFailed('missing', 'http');
      span.end();
      const [inside, outside] = linesOf('auth_failed', (l) => l.node === 'ctx-test');
      expect(inside).toMatchObject({ reason: 'invalid', traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
      expect(outside).toMatchObject({ reason: 'missing' });
      expect(outside).not.toHaveProperty('traceId');
    } finally {
      context.disable();
    }
  });

  it('the edge logs region_down when a region is taken down and region_up when it is back, with the admin request that did it', async () => {
    const admin = (action: 'down' | 'up'): Promise<Response> => fetch(`${edge.url}/v1/admin/regions/eu-west/${action}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await admin('down')).status).toBe(202);
    await waitFor(() => linesOf('region_down', (l) => l.region === 'eu-west').length > 0, 'region_down logged', 5000, 50);
    const [down] = linesOf('region_down', (l) => l.region === 'eu-west');
    expect(down).toMatchObject({ level: 40, component: 'edge', region: 'eu-west', probeHealthy: false, msg: 'region eu-west unhealthy' });
    expect(linesOf('admin', (l) => l.region === 'eu-west')[0]).toMatchObject({ level: 30, component: 'edge', action: 'region.down', who: 'admin-token' });
    expect((await admin('up')).status).toBe(202);
    await waitFor(() => linesOf('region_up', (l) => l.region === 'eu-west').length > 0, 'region_up logged', 10_000, 50);
    expect(linesOf('region_up', (l) => l.region === 'eu-west')[0]).toMatchObject({ level: 30, component: 'edge', probeHealthy: true });
  });
});
