// --otlp: spans of a cross-region send reach an OpenTelemetry collector over OTLP/HTTP (JSON).
// The collector here is a real HTTP server on loopback that decodes what the exporter posts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { otlpEndpoint, startOtlpTracing } from '../../src/observability/otlp.js';
import type { OtlpTracing } from '../../src/observability/otlp.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from '../node/client.js';
import { threeRegions } from '../node/fixtures.js';

interface OtlpSpan { name: string; traceId: string; attributes?: Array<{ key: string; value: { stringValue?: string } }> }

describe('OTLP export', () => {
  const received: OtlpSpan[] = [];
  let collector: ReturnType<typeof createServer>;
  let url: string;
  let tracing: OtlpTracing;
  let d: Deployment;
  beforeAll(async () => {
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/v1/traces') {
          const doc = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
          for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    tracing = startOtlpTracing(otlpEndpoint(url)!);
    d = await startEmbeddedDeployment(threeRegions(5), { dataDir: ':memory:' });
  });
  afterAll(async () => {
    await d?.close();
    await tracing?.shutdown();
    await new Promise((r) => collector?.close(r));
  });

  it('names the collector by flag or OTEL_EXPORTER_OTLP_ENDPOINT, never by default', () => {
    expect(otlpEndpoint(undefined, {})).toBeUndefined();
    expect(otlpEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toBe('http://c:4318/v1/traces');
    expect(otlpEndpoint('http://c:4318', {})).toBe('http://c:4318/v1/traces');
    expect(otlpEndpoint('http://c:4318/v1/traces', {})).toBe('http://c:4318/v1/traces');
  });

  it('exports one trace spanning two regions for a cross-region send', async () => {
    const bob = await TestClient.dev(d.wsUrl('eu-west'), 'otlp-bob');
    const alice = await TestClient.dev(d.wsUrl('us-east'), 'otlp-alice');
    // The conversation is homed in us-east (first sender); bob's send from eu-west is forwarded.
    await alice.request({ type: 'send', id: 's0', to: { user: 'otlp-bob' }, body: 'first', clientMsgId: 'k0' });
    await bob.request({ type: 'send', id: 's1', to: { user: 'otlp-alice' }, body: 'traced', clientMsgId: 'k1' });
    await alice.waitMessages('dm:otlp-alice:otlp-bob', 2, 5000);
    await tracing.flush();
    const sends = received.filter((s) => s.name === 'meridian.send');
    expect(sends.length).toBeGreaterThanOrEqual(2);
    const byTrace = new Map<string, Set<string>>();
    for (const s of received) {
      const region = s.attributes?.find((a) => a.key === 'meridian.region')?.value.stringValue;
      if (region !== undefined) byTrace.set(s.traceId, (byTrace.get(s.traceId) ?? new Set()).add(region));
    }
    expect([...byTrace.values()].some((regions) => regions.has('eu-west') && regions.has('us-east'))).toBe(true);
    await alice.close();
    await bob.close();
  });

  it('refuses a collector URL that is not http(s)', async () => {
    let err = '';
    const code = await main(['edge', '--regions', 'us-east=http://127.0.0.1:1', '--port', '0', '--otlp', 'ftp://x'], { out: () => undefined, err: (s) => (err += s) });
    expect(code).toBe(2);
    expect(err).toContain('--otlp');
  });
});
