/**
 * Reading a nats-server's HTTP monitoring endpoints (/healthz, /gatewayz, /jsz) in tests, and
 * polling until a condition holds.
 *
 * Only the fields the harness needs are typed; the server sends more. RTTs come as Go duration
 * strings ("99.912ms", "1.2s", "345µs") and are converted to milliseconds here.
 */

export interface GatewayConnection {
  /** Remote address of the TCP connection (for an outbound link: the proxy in front of the peer). */
  ip?: string;
  port?: number;
  rtt?: string;
  name?: string;
}

export interface Gatewayz {
  name: string;
  outbound_gateways?: Record<string, { configured?: boolean; connection?: GatewayConnection }>;
  inbound_gateways?: Record<string, Array<{ configured?: boolean; connection?: GatewayConnection }>>;
}

export interface Jsz {
  disabled?: boolean;
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number };
}

/** GET a monitoring endpoint and parse its JSON body; throws on a non-2xx status or bad JSON. */
export async function fetchMonitor<T>(httpUrl: string, path: string, timeoutMs = 2000): Promise<T> {
  const res = await fetch(new URL(path, httpUrl), { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`GET ${path} -> ${res.status}: ${text.slice(0, 300)}`);
  }
  return JSON.parse(text) as T;
}

/** True when /healthz answers `{"status":"ok"}` (false on any error: not started, not ready). */
export async function isHealthy(httpUrl: string): Promise<boolean> {
  try {
    const body = await fetchMonitor<{ status?: string }>(httpUrl, '/healthz');
    return body.status === 'ok';
  } catch {
    return false;
  }
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ns: 1e-6 };

/** Go `time.Duration.String()` ("1m2.5s", "99.9ms", "0s") to milliseconds; NaN when unparsable. */
export function parseGoDurationMs(text: string): number {
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|ns)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const [whole, value, unit] = m;
    const factor = unit === undefined ? undefined : UNIT_MS[unit];
    if (value === undefined || factor === undefined) return Number.NaN;
    total += Number(value) * factor;
    consumed += whole.length;
  }
  return consumed === text.length && consumed > 0 ? total : Number.NaN;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What was awaited, for the timeout error; called only on timeout. */
  describe: () => string | Promise<string>;
}

/** Thrown from a `waitUntil` check to stop waiting at once (e.g. the server process exited). */
export class GiveUpError extends Error {
  override name = 'GiveUpError';
}

/**
 * Poll `check` until it returns true. A thrown error counts as "not yet" (servers starting up
 * refuse connections), except `GiveUpError`, which ends the wait. On timeout, throws with
 * `describe()` and the last error seen.
 */
export async function waitUntil(check: () => Promise<boolean> | boolean, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof GiveUpError) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
  const what = await options.describe();
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${options.timeoutMs} ms: ${what}${cause}`, { cause: lastError });
}
