/**
 * The browser entry of the client: nothing it imports may need Node (checked on the import
 * graph), and it works with a WHATWG WebSocket — undici's, the same API browsers have (string
 * `data`, `addEventListener`, no `terminate`) — against a real region node.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { it, expect } from 'vitest';
import { WebSocket as WhatwgWebSocket } from 'undici';
import { MeridianClient } from '../../src/client/mod.js';
import type { WebSocketConstructor } from '../../src/client/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import { startEdge } from '../../src/edge/server/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { Recorder } from '../e2e/helpers.js';

/** Every module reachable from `entry` by static imports: relative files and package names. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (m[0].trimStart().startsWith('import type') || m[0].trimStart().startsWith('export type')) continue;
      if (spec.startsWith('.')) todo.push(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  }
  return { files, packages };
}

it('the browser entry imports nothing from Node', () => {
  const { files, packages } = importGraph('src/client/mod.ts');
  expect(files.size).toBeGreaterThan(10);
  expect([...packages].sort()).toEqual(['zod']);
  const nodeEntry = importGraph('src/client/node.ts');
  expect([...nodeEntry.packages].sort()).toEqual(['ws', 'zod']);
});

it('the browser entry works with a WHATWG WebSocket', async () => {
  const d = await startEmbeddedDeployment(defaultTopology(), { dataDir: ':memory:' });
  const WebSocket = WhatwgWebSocket as unknown as WebSocketConstructor;
  const a = new MeridianClient({ url: d.wsUrl('us-east'), user: 'w-a', WebSocket });
  const b = new MeridianClient({ url: d.wsUrl('eu-west'), user: 'w-b', WebSocket });
  try {
    const rb = new Recorder(b);
    await Promise.all([a.connected(), b.connected()]);
    const ack = await a.send({ user: 'w-b' }, { via: 'whatwg' });
    const [m] = await rb.count(dmConversation('w-a', 'w-b'), 1);
    expect(m).toMatchObject({ seq: ack.seq, body: { via: 'whatwg' } });
  } finally {
    await Promise.all([a.close(), b.close()]);
    await d.close();
  }
});

it('the browser entry elects its region through the edge with a WHATWG WebSocket and fetch', async () => {
  const topology = defaultTopology();
  const d = await startEmbeddedDeployment(topology, { dataDir: ':memory:' });
  const edge = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false });
  const WebSocket = WhatwgWebSocket as unknown as WebSocketConstructor;
  const a = new MeridianClient({ edge: edge.url, user: 'w-el', WebSocket, fetch: globalThis.fetch, election: { samples: 2 } });
  const b = new MeridianClient({ url: d.wsUrl('ap-southeast'), user: 'w-el-peer', WebSocket });
  try {
    const elections: string[] = [];
    a.on('election', (e) => elections.push(`${e.trigger}:${e.decision}`));
    const w = await a.connected();
    expect(elections).toEqual(['connect:connect']);
    expect(Object.keys(d.urls)).toContain(w.region);
    const rb = new Recorder(b);
    await b.connected();
    const ack = await a.send({ user: 'w-el-peer' }, { via: 'elected' });
    const [m] = await rb.count(dmConversation('w-el', 'w-el-peer'), 1);
    expect(m).toMatchObject({ seq: ack.seq, body: { via: 'elected' } });
  } finally {
    await Promise.all([a.close(), b.close()]);
    await edge.close();
    await d.close();
  }
});
