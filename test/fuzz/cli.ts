/**
 * `npm run fuzz -- [--requests N] [--frames N] [--seed S]`: the fuzz suite of test/fuzz/fuzz.test.ts
 * for as long as you like, against a fresh node in a child process. Each failing input is saved
 * under test/fuzz/regressions/, where CI replays it for good: HTTP requests as seed-*.json
 * (credentials replaced by placeholders), frame rounds as frames-*.json (narrowed to the shortest
 * prefix that still fails on a fresh connection). Exit 1 when anything broke a rule.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fuzzFrames, narrow, saveFrameRegression } from './frames.js';
import { fuzzHttp } from './http-fuzz.js';
import { forkTarget } from './target.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '100000' }, frames: { type: 'string', default: '200000' }, seed: { type: 'string' } } });
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const requests = Number(values.requests);
const frames = Number(values.frames);
if (![seed, requests, frames].every((n) => Number.isInteger(n) && n >= 0)) {
  process.stderr.write('usage: npm run fuzz -- [--requests N] [--frames N] [--seed S]\n');
  process.exit(2);
}

const dir = fileURLToPath(new URL('./regressions/', import.meta.url));
const t = await forkTarget();
let failed = false;
try {
  process.stdout.write(`fuzz: seed ${seed}, ${requests} HTTP requests, ${frames} frames\n`);
  let started = Date.now();
  const http = await fuzzHttp(t, { seed, count: requests });
  process.stdout.write(`http: ${http.requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, statuses ${JSON.stringify(http.statuses)}\n`);
  if (http.failures.length > 0) {
    failed = true;
    mkdirSync(dir, { recursive: true });
    http.failures.forEach((f, i) => {
      const headers = Object.fromEntries(Object.entries(f.request.headers).map(([k, v]) => [k, v.replace(t.adminToken, '$ADMIN').replace(t.workerToken, '$WORKER').replace(t.userToken, '$USER').replace(t.eraseKey, '$ERASE')]));
      const file = `${dir}seed-${seed}-${i}.json`;
      writeFileSync(file, `${JSON.stringify({ found: `seed ${seed}: ${f.reason}`, request: { ...f.request, headers } }, null, 2)}\n`);
      process.stdout.write(`FAIL ${f.request.method} ${f.request.path}: ${f.reason}\n  saved ${file}\n`);
    });
  }
  started = Date.now();
  const ws = await fuzzFrames(t, { seed, count: frames });
  process.stdout.write(`frames: ${ws.frames} sent in ${((Date.now() - started) / 1000).toFixed(1)} s, ${ws.replies} replies, ${ws.failures.length} failing rounds\n`);
  if (ws.failures.length > 0) {
    failed = true;
    mkdirSync(dir, { recursive: true });
    for (const f of ws.failures) {
      process.stdout.write(`FAIL round ${f.round} (${f.authed ? 'authenticated' : 'handshake'}): ${f.reason}\n`);
      const n = await narrow(t, f);
      const file = `${dir}frames-${seed}-${f.round}.json`;
      saveFrameRegression(file, n);
      process.stdout.write(`  saved ${file} (${n.frames.length} frame${n.frames.length === 1 ? '' : 's'}${n.reproduced ? '' : ', did not reproduce alone'})\n`);
    }
  }
  if ((await Promise.race([t.exited.then(() => 'exited'), new Promise((r) => setTimeout(r, 0, 'running'))])) === 'exited') {
    failed = true;
    process.stdout.write('FAIL the target process exited\n');
  }
} finally {
  await t.close();
}
process.stdout.write(failed ? `fuzz: FAILED (seed ${seed})\n` : 'fuzz: ok\n');
process.exit(failed ? 1 : 0);
