/**
 * `npm run fuzz -- [--requests N] [--frames N] [--seed S]`: the fuzz suite of test/fuzz/fuzz.test.ts
 * for as long as you like, against a fresh node. Each failing HTTP input is saved under
 * test/fuzz/regressions/ (credentials replaced by placeholders), where CI replays it for good.
 * Exit 1 when anything broke a rule.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fuzzFrames } from './frames.js';
import { fuzzHttp } from './http-fuzz.js';
import { startTarget } from './target.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '100000' }, frames: { type: 'string', default: '200000' }, seed: { type: 'string' } } });
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const requests = Number(values.requests);
const frames = Number(values.frames);
if (![seed, requests, frames].every((n) => Number.isInteger(n) && n >= 0)) {
  process.stderr.write('usage: npm run fuzz -- [--requests N] [--frames N] [--seed S]\n');
  process.exit(2);
}

const t = await startTarget();
let failed = false;
try {
  process.stdout.write(`fuzz: seed ${seed}, ${requests} HTTP requests, ${frames} frames\n`);
  const started = Date.now();
  const http = await fuzzHttp(t, { seed, count: requests });
  process.stdout.write(`http: ${http.requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, statuses ${JSON.stringify(http.statuses)}\n`);
  if (http.failures.length > 0) {
    failed = true;
    const dir = fileURLToPath(new URL('./regressions/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    http.failures.forEach((f, i) => {
      const headers = Object.fromEntries(Object.entries(f.request.headers).map(([k, v]) => [k, v.replace(t.adminToken, '$ADMIN').replace(t.workerToken, '$WORKER').replace(t.userToken, '$USER')]));
      const file = `${dir}seed-${seed}-${i}.json`;
      writeFileSync(file, `${JSON.stringify({ found: `seed ${seed}: ${f.reason}`, request: { ...f.request, headers } }, null, 2)}\n`);
      process.stdout.write(`FAIL ${f.request.method} ${f.request.path}: ${f.reason}\n  saved ${file}\n`);
    });
  }
  const ws = await fuzzFrames(t.devWsUrl, { seed, count: frames });
  process.stdout.write(`frames: ${ws.frames} sent, ${ws.replies} replies, ${ws.invalid.length} invalid, ${ws.authedCloses} authenticated connections lost\n`);
  if (ws.invalid.length > 0 || ws.authedCloses > 0) {
    failed = true;
    for (const i of ws.invalid.slice(0, 10)) process.stdout.write(`FAIL invalid server frame: ${i}\n`);
    if (ws.authedCloses > 0) process.stdout.write(`FAIL ${ws.authedCloses} authenticated connections closed (replay with --seed ${seed})\n`);
  }
} finally {
  await t.close();
}
process.stdout.write(failed ? `fuzz: FAILED (seed ${seed})\n` : 'fuzz: ok\n');
process.exit(failed ? 1 : 0);
