// WebSocket upgrades checked against the configured browser origins: another origin gets 403
// (no cross-site WebSocket hijacking with the visitor's token) with the typed error body; a
// listed one and a client that sends no Origin (not a browser) are accepted. The list comes from
// the node's `origins` option (`--origins`), else from the topology's `origins:`.
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { oneRegion } from './fixtures.js';

interface Answer {
  status: number;
  statusMessage?: string;
  body?: string;
}

function open(url: string, origin?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, SUBPROTOCOL, origin === undefined ? {} : { origin });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', body }));
    });
    ws.once('error', () => resolve({ status: 0 }));
  });
}

const status = async (url: string, origin?: string): Promise<number> => (await open(url, origin)).status;

describe('WebSocket origins', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(oneRegion(), { dataDir: ':memory:', region: { node: { auth: { dev: true }, origins: ['https://app.example'] } } });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('refuses unlisted origins and accepts listed ones and non-browsers', async () => {
    const url = d.wsUrl('solo');
    expect(await status(url, 'https://evil.example')).toBe(403);
    expect(await status(url, 'https://app.example')).toBe(101);
    expect(await status(url)).toBe(101);
  });

  it('answers a refused origin 403 Forbidden with the typed error body ORIGIN_NOT_ALLOWED', async () => {
    const a = await open(d.wsUrl('solo'), 'https://evil.example');
    expect(a).toMatchObject({ status: 403, statusMessage: 'Forbidden' });
    expect(JSON.parse(a.body!)).toEqual({ error: { code: 'ORIGIN_NOT_ALLOWED', message: 'origin "https://evil.example" may not open WebSockets here' } });
  });
});

describe('WebSocket origins from the topology', () => {
  const deployments: Deployment[] = [];
  afterAll(async () => {
    await Promise.all(deployments.map((d) => d.close()));
  });
  const start = async (origins: string[], flag?: string[]): Promise<string> => {
    const d = await startEmbeddedDeployment({ ...oneRegion(), origins }, { dataDir: ':memory:', region: { node: { auth: { dev: true }, ...(flag === undefined ? {} : { origins: flag }) } } });
    deployments.push(d);
    return d.wsUrl('solo');
  };

  it('without the option, the node checks the topology\'s origins', async () => {
    const url = await start(['https://app.example', 'http://localhost:3000']);
    expect(await status(url, 'https://evil.example')).toBe(403);
    expect(await status(url, 'https://app.example')).toBe(101);
    expect(await status(url, 'http://localhost:3000')).toBe(101);
    expect(await status(url)).toBe(101);
  });

  it('the option (--origins) wins over the topology', async () => {
    const url = await start(['https://app.example'], ['https://other.example']);
    expect(await status(url, 'https://app.example')).toBe(403);
    expect(await status(url, 'https://other.example')).toBe(101);
  });

  it('"*" in the topology lets any origin in, as no list does', async () => {
    const url = await start(['*']);
    expect(await status(url, 'https://evil.example')).toBe(101);
  });

  it('an empty list lets no browser page in, and non-browsers still pass', async () => {
    const url = await start([]);
    expect(await status(url, 'https://app.example')).toBe(403);
    expect(await status(url)).toBe(101);
  });
});
