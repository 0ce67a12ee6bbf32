// WebSocket upgrades checked against the configured browser origins: another origin gets 403
// (no cross-site WebSocket hijacking with the visitor's token); a listed one and a client that
// sends no Origin (not a browser) are accepted.
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { oneRegion } from './fixtures.js';

function open(url: string, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, SUBPROTOCOL, origin === undefined ? {} : { origin });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', () => resolve(0));
  });
}

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
    expect(await open(url, 'https://evil.example')).toBe(403);
    expect(await open(url, 'https://app.example')).toBe(101);
    expect(await open(url)).toBe(101);
  });
});
