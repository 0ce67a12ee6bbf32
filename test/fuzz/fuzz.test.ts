/**
 * The fuzz suite in CI (bounded; `npm run fuzz -- --requests N --frames N --seed S` runs longer):
 * seeded HTTP requests to every route and WebSocket frames against one running node with the
 * services module. No undocumented 5xx, well-formed errors, /health throughout, only valid server
 * frames, no authenticated connection lost, memory back near where it started. Saved failing
 * inputs (test/fuzz/regressions/*.json) are replayed first.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzFrames } from './frames.js';
import { fuzzHttp, judge, send } from './http-fuzz.js';
import type { FuzzRequest } from './http-fuzz.js';
import { startTarget } from './target.js';
import type { RunningTarget } from './target.js';

const REGRESSIONS = fileURLToPath(new URL('./regressions/', import.meta.url));

describe('fuzzing a running node', () => {
  let t: RunningTarget;
  let heapBefore = 0;
  beforeAll(async () => {
    t = await startTarget();
    heapBefore = process.memoryUsage().heapUsed;
  }, 30_000);
  afterAll(async () => {
    await t?.close();
  });

  it('replays every saved failing input without a rule broken', async () => {
    const files = readdirSync(REGRESSIONS).filter((f) => f.endsWith('.json'));
    for (const f of files) {
      const saved = JSON.parse(readFileSync(`${REGRESSIONS}${f}`, 'utf8')) as { request: FuzzRequest };
      // Credentials in saved cases are placeholders: put this run's in.
      const q = { ...saved.request, headers: Object.fromEntries(Object.entries(saved.request.headers).map(([k, v]) => [k, v.replace('$ADMIN', t.adminToken).replace('$WORKER', t.workerToken).replace('$USER', t.userToken)])) };
      expect(judge(q, await send(t.url, q)), f).toBeUndefined();
    }
  });

  it('answers 10,000 seeded HTTP requests by the rules, /health throughout', async () => {
    const report = await fuzzHttp(t, { seed: 20261204, count: 10_000 });
    expect(report.failures).toEqual([]);
    // The run reached real handlers, not only refusals.
    const ok = Object.entries(report.statuses).filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((n, [, c]) => n + c, 0);
    expect(ok).toBeGreaterThan(200);
    expect(Object.keys(report.statuses).length).toBeGreaterThan(6);
  }, 120_000);

  it('answers 50,000 seeded frames with valid frames only, keeping authenticated connections', async () => {
    const report = await fuzzFrames(t.devWsUrl, { seed: 424242, count: 50_000 });
    expect(report.invalid).toEqual([]);
    expect(report.authedCloses).toBe(0);
    expect(report.replies).toBeGreaterThan(10_000);
  }, 120_000);

  it('keeps serving, and memory comes back near where it started', async () => {
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    const echo = await fetch(`${t.url}/v1/services/echo/`, { headers: { authorization: `Bearer ${t.userToken}` } });
    expect(echo.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    // Without --expose-gc this is loose: a leak of fuzz inputs would be hundreds of MB.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(150 * 1024 * 1024);
  });
});
