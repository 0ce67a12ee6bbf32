/**
 * The fuzz target's child process (forked by `forkTarget()` in target.ts): starts the target,
 * sends where it is over IPC, and answers `{ op: 'memory' }` with its memory after forced GCs
 * (run with `--expose-gc`) and `{ op: 'close' }` by closing and exiting. It exits when the parent
 * goes away, so a killed test run leaves no node behind.
 */
import { startTarget } from './target.js';
import type { RunningTarget, TargetInfo } from './target.js';

type Request = { readonly op: 'memory'; readonly settleMs: number } | { readonly op: 'close' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GC until the heap stops shrinking (less than 1% between two rounds 200 ms apart) or `settleMs` passed. */
async function settledMemory(settleMs: number): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the fuzz target needs --expose-gc');
  const until = Date.now() + settleMs;
  gc();
  let last = process.memoryUsage();
  while (Date.now() < until) {
    await sleep(200);
    gc();
    const now = process.memoryUsage();
    const shrank = last.heapUsed - now.heapUsed > last.heapUsed * 0.01;
    last = now;
    if (!shrank) break;
  }
  return last;
}

let target: RunningTarget;
try {
  target = await startTarget();
} catch (err) {
  process.send?.({ kind: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
const info: TargetInfo = { url: target.url, wsUrl: target.wsUrl, devUrl: target.devUrl, devWsUrl: target.devWsUrl, adminToken: target.adminToken, workerToken: target.workerToken, eraseKey: target.eraseKey, userToken: target.userToken, expiredToken: target.expiredToken };
process.send?.({ kind: 'ready', info });

let closing = false;
const stop = (): void => {
  if (closing) return;
  closing = true;
  void target.close().finally(() => process.exit(0));
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('message', (m: Request) => {
  if (m.op === 'close') stop();
  else {
    void settledMemory(m.settleMs).then((u) => process.send?.({ kind: 'memory', heapUsed: u.heapUsed, rss: u.rss, external: u.external }));
  }
});
