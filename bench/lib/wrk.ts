/**
 * wrk (C, epoll) as the HTTP load generator: it costs far less CPU per request than any Node
 * client, so on 2 cores more of the machine is left to the proxy under test. A Lua `done` hook
 * prints the numbers as one JSON line (latencies in microseconds).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from './proc.js';

export const WRK = '/usr/bin/wrk';

const SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"socketErrors":%d,"non2xx":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export interface WrkResult {
  readonly requests: number;
  readonly rps: number;
  readonly errors: number;
  /** Latency percentiles, milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export async function wrk(url: string, opts: { connections: number; seconds: number; threads?: number; headers?: Readonly<Record<string, string>> }): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-wrk-'));
  try {
    const script = join(dir, 'report.lua');
    writeFileSync(script, SCRIPT);
    const headers = Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const out = await runProgram(WRK, ['-t', String(opts.threads ?? 1), '-c', String(opts.connections), '-d', `${Math.max(1, Math.round(opts.seconds))}s`, '--timeout', '5s', ...headers, '-s', script, url], (opts.seconds + 15) * 1000);
    const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
    if (line === undefined) throw new Error(`wrk printed no report: ${out}`);
    const r = JSON.parse(line) as { requests: number; durationUs: number; socketErrors: number; non2xx: number; p50: number; p90: number; p99: number; max: number };
    return { requests: r.requests, rps: r.requests / (r.durationUs / 1e6), errors: r.socketErrors + r.non2xx, p50: r.p50 / 1000, p90: r.p90 / 1000, p99: r.p99 / 1000, max: r.max / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
