/**
 * What the fuzzers run against: one production-configured region node (HS256 client tokens, an
 * admin token, API keys from a keys file, the services module with a real worker serving a
 * service and a function, the erasure service), with the frame rate and abuse limits and the
 * HTTP rate limit off so every input reaches a handler, and the same node in dev mode for frames.
 *
 * `forkTarget()` runs it in a child process (test/fuzz/target-process.ts), which is how the suite
 * and `npm run fuzz` use it: a hung node shows as /health timing out instead of hanging the
 * fuzzer, a crash as the child exiting, and the memory check reads the node's own heap after a
 * forced GC (`--expose-gc`), not the fuzzer's.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKey, KeyRing } from '../../src/keys/mod.js';
import { startDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { parseTopology } from '../../src/topology/mod.js';
import { serve } from '../../src/worker/mod.js';
import type { Worker } from '../../src/worker/mod.js';
import { SECRET, hsToken } from '../node/fixtures.js';
import type { FuzzTarget } from './http-fuzz.js';

/** Where the target is, and its credentials: what crosses the process boundary. */
export interface TargetInfo extends FuzzTarget {
  readonly wsUrl: string;
  /** The dev-mode node the frames go to (dev auth makes the handshake cheap). */
  readonly devUrl: string;
  readonly devWsUrl: string;
}

export interface RunningTarget extends TargetInfo {
  close(): Promise<void>;
}

/** The target process's memory after a forced GC, once it stopped shrinking. */
export interface TargetMemory {
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
}

export interface ForkedTarget extends RunningTarget {
  /** GC the target until its heap stops shrinking (at most `settleMs`), then report its memory. */
  memory(settleMs?: number): Promise<TargetMemory>;
  /** Resolves with the exit code if the target process ends (it must not before close()). */
  readonly exited: Promise<number | null>;
}

const topology = parseTopology('regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\nfunctions:\n  f:\n    async: { maxAttempts: 2, backoffMs: 10 }\n', '<fuzz>');

/** The target in this process. */
export async function startTarget(): Promise<RunningTarget> {
  const adminToken = 'fuzz-admin-token-000000000';
  const workerToken = 'fuzz-worker-token-00000000';
  const dir = mkdtempSync(join(tmpdir(), 'meridian-fuzz-'));
  const erase = await createKey(join(dir, 'keys.json'), { scopes: ['erase'], note: 'fuzz: erase only' });
  const keys = await KeyRing.open(join(dir, 'keys.json'));
  const loose = { rateLimit: { ratePerSec: 1_000_000, burst: 1_000_000 }, abuseBurst: 1_000_000, abuseRatePerSec: 1_000_000, httpRateLimit: false as const };
  const d: Deployment = await startDeployment(topology, {
    dataDir: ':memory:',
    region: { node: { auth: { hs256Secret: SECRET }, adminToken, keys, ...loose }, modules: servicesModules(workerToken, { egress: { allowLoopback: true } }) },
  });
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
    keys.close();
    throw err;
  }
  return {
    url,
    wsUrl: d.wsUrl('solo'),
    devUrl: dev.urls['solo']!,
    devWsUrl: dev.wsUrl('solo'),
    adminToken,
    workerToken,
    eraseKey: erase.key,
    userToken: await hsToken({ sub: 'alice', rooms: ['*'], services: ['*'], functions: ['*'] }),
    expiredToken: await hsToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }, { expSec: 0 }),
    async close() {
      await worker?.close();
      await d.close();
      await dev.close();
      keys.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Reply = { readonly kind: 'ready'; readonly info: TargetInfo } | { readonly kind: 'failed'; readonly error: string } | ({ readonly kind: 'memory' } & TargetMemory);

/** The target in a child process (tsx loader, `--expose-gc`). The child is SIGKILLed if close() takes over 10 s. */
export async function forkTarget(): Promise<ForkedTarget> {
  const proc = fork(fileURLToPath(new URL('./target-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    // Auth failures are logged per request: thousands of lines, unless asked for.
    env: { ...process.env, MERIDIAN_LOG_LEVEL: process.env['MERIDIAN_LOG_LEVEL'] ?? 'error' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const replies: ((m: Reply) => void)[] = [];
  proc.on('message', (m) => replies.shift()?.(m as Reply));
  const next = (ms: number, what: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the fuzz target did not answer ${what} in ${ms} ms`)), ms);
      replies.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`the fuzz target exited with ${code} (${what})`));
      });
    });
  let first: Reply;
  try {
    first = await next(60_000, 'its start');
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  if (first.kind !== 'ready') {
    proc.kill('SIGKILL');
    throw new Error(`the fuzz target failed to start: ${first.kind === 'failed' ? first.error : first.kind}`);
  }
  return {
    ...first.info,
    exited,
    async memory(settleMs = 3000) {
      const reply = next(settleMs + 10_000, 'a memory request');
      proc.send({ op: 'memory', settleMs });
      const m = await reply;
      if (m.kind !== 'memory') throw new Error(`the fuzz target answered ${m.kind} to a memory request`);
      return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
    },
    async close() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.send({ op: 'close' });
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
