/**
 * What the fuzzers run against: one production-configured region node (HS256 client tokens, an
 * admin token, the services module with a real worker serving a service and a function), with the
 * frame rate and abuse limits and the HTTP rate limit off so every input reaches a handler.
 */
import { startDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { parseTopology } from '../../src/topology/mod.js';
import { serve } from '../../src/worker/mod.js';
import type { Worker } from '../../src/worker/mod.js';
import { SECRET, hsToken } from '../node/fixtures.js';
import type { FuzzTarget } from './http-fuzz.js';

export interface RunningTarget extends FuzzTarget {
  readonly wsUrl: string;
  readonly devWsUrl: string;
  close(): Promise<void>;
}

const topology = parseTopology('regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\nfunctions:\n  f:\n    async: { maxAttempts: 2, backoffMs: 10 }\n', '<fuzz>');

export async function startTarget(): Promise<RunningTarget> {
  const adminToken = 'fuzz-admin-token-000000000';
  const workerToken = 'fuzz-worker-token-00000000';
  const loose = { rateLimit: { ratePerSec: 1_000_000, burst: 1_000_000 }, abuseBurst: 1_000_000, abuseRatePerSec: 1_000_000, httpRateLimit: false as const };
  const d: Deployment = await startDeployment(topology, {
    dataDir: ':memory:',
    region: { node: { auth: { hs256Secret: SECRET }, adminToken, ...loose }, modules: servicesModules(workerToken, { egress: { allowLoopback: true } }) },
  });
  // The same node in dev mode for frames (dev auth makes the handshake cheap).
  const dev: Deployment = await startDeployment(topology, { dataDir: ':memory:', region: { node: { auth: { dev: true }, ...loose } } });
  const url = d.urls['solo']!;
  let worker: Worker | undefined;
  try {
    worker = await serve({
      node: url,
      token: workerToken,
      id: 'fuzz-worker',
      handleSignals: false,
      services: { echo: (req, res) => void req.resume().on('end', () => res.end('echo')) },
      functions: { f: (e) => ({ got: typeof e.data }) },
    });
  } catch (err) {
    await d.close();
    await dev.close();
    throw err;
  }
  return {
    url,
    wsUrl: d.wsUrl('solo'),
    devWsUrl: dev.wsUrl('solo'),
    adminToken,
    workerToken,
    userToken: await hsToken({ sub: 'alice', rooms: ['*'], services: ['*'], functions: ['*'] }),
    expiredToken: await hsToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }, { expSec: 0 }),
    async close() {
      await worker?.close();
      await d.close();
      await dev.close();
    },
  };
}
