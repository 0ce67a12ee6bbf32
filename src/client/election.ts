/**
 * Latency election: which region this client should be connected to, measured from where the
 * client really is. The edge's steering guesses from GeoIP and its own probes; a client can do
 * better by asking the edge which regions it may use (`GET <edge>/v1/candidates`, which applies
 * residency and the country rules, so the client never picks a region the edge would refuse)
 * and timing a few tiny HTTP requests (`GET <region>/health`) to the best-scored of them.
 *
 * Why HTTP and not a WebSocket per candidate: an authenticated probe connection would be a
 * session (presence online in a region the user is not in, a welcome, a resume); an HTTP
 * round trip on a kept-alive connection measures the same path with no side effect, and works
 * in browsers too (`mode: 'no-cors'`: the timing is what we want, not the answer). The first
 * request of each candidate pays for TCP (and TLS) set-up and is not counted.
 *
 * Browser-safe: `fetch` is injected (the global one by default).
 */
import type { Clock } from './clock.js';

export interface ElectionOptions {
  /** Best-scored candidates the edge returns that are probed. Default 3. */
  candidates: number;
  /** Timed requests per candidate, after one untimed warm-up request. Default 3. */
  samples: number;
  /** One probe request gives up after this (ms); the candidate then failed. Default 1000. */
  probeTimeoutMs: number;
  /** The whole election (candidate list and every probe) is bounded by this (ms). Default 3000. */
  timeoutMs: number;
  /** Re-elect this often while connected (ms, ± 10 % jitter); 0 disables it. Default 300 000. */
  intervalMs: number;
  /** The link is sampled with a heartbeat this often (ms) to see it degrade; 0 disables it. Default 5000. */
  linkSampleMs: number;
  /** Degraded: a link sample above `degradeFactor` × the link's baseline… Default 3. */
  degradeFactor: number;
  /** …and above the baseline + `degradeExtraMs`… Default 50. */
  degradeExtraMs: number;
  /** …for this many samples in a row. Default 3. */
  degradeSamples: number;
  /** Link samples after connecting whose median is the baseline. Default 3. */
  baselineSamples: number;
  /** At least this long between two re-elections caused by degradation (ms). Default 30 000. */
  cooldownMs: number;
  /** Switch only to a region at least this much faster (ms)… Default 10. */
  minGainMs: number;
  /** …and at least this share faster than the current one. Default 0.2. */
  minGainRatio: number;
}

export const DEFAULT_ELECTION: ElectionOptions = Object.freeze({
  candidates: 3,
  samples: 3,
  probeTimeoutMs: 1000,
  timeoutMs: 3000,
  intervalMs: 300_000,
  linkSampleMs: 5000,
  degradeFactor: 3,
  degradeExtraMs: 50,
  degradeSamples: 3,
  baselineSamples: 3,
  cooldownMs: 30_000,
  minGainMs: 10,
  minGainRatio: 0.2,
});

/** One region the edge offers (the `/v1/candidates` answer's rows). */
export interface CandidateRegion {
  readonly region: string;
  /** http(s) base URL, probed at `/health`. */
  readonly url: string;
  /** ws(s) URL to connect to. */
  readonly wsUrl: string;
  readonly score: number | null;
}

export interface ProbedRegion extends CandidateRegion {
  /** Median of the timed samples (ms). */
  readonly rttMs: number;
  readonly samples: readonly number[];
}

export interface ElectionFailure {
  /** The region, or `edge` when the candidate list could not be had. */
  readonly region: string;
  readonly url: string;
  readonly error: string;
}

export interface ElectionResult {
  /** Candidates that answered, fastest first. */
  readonly ranked: readonly ProbedRegion[];
  readonly failures: readonly ElectionFailure[];
  /** The edge's own pick (its steering), for information. */
  readonly edgeChoice: string | null;
  readonly tookMs: number;
}

export type FetchLike = (input: string, init?: { method?: string; mode?: 'no-cors' | 'cors'; cache?: 'no-store'; signal?: AbortSignal; headers?: Record<string, string> }) => Promise<{
  readonly ok: boolean;
  readonly status: number;
  readonly type?: string;
  json(): Promise<unknown>;
  text(): Promise<string>;
}>;

export interface ElectorDeps {
  readonly edge: string;
  readonly fetch: FetchLike;
  readonly clock: Clock;
  readonly options: ElectionOptions;
}

/** `ws(s)://host/ws` of the edge itself: where a client goes when the election has nothing. */
export function edgeWsUrl(edge: string): string {
  const u = new URL(edge);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`;
  u.search = '';
  return u.toString();
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export { median };

function message(err: unknown): string {
  if (err instanceof Error) return err.name === 'AbortError' ? 'timed out' : err.message;
  return String(err);
}

/** A fetch bounded by `ms` (and by the election's `outer` signal). */
async function timed<T>(clock: Clock, ms: number, outer: AbortSignal, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const onOuter = (): void => ctl.abort();
  outer.addEventListener('abort', onOuter);
  const t = clock.setTimeout(() => ctl.abort(), ms);
  try {
    return await run(ctl.signal);
  } finally {
    clock.clearTimeout(t);
    outer.removeEventListener('abort', onOuter);
  }
}

export class Elector {
  constructor(private readonly d: ElectorDeps) {}

  /** Ask the edge, probe, rank. Never throws: what failed is in `failures`. */
  async run(): Promise<ElectionResult> {
    const { clock, options } = this.d;
    const started = clock.now();
    const all = new AbortController();
    const deadline = clock.setTimeout(() => all.abort(), options.timeoutMs);
    const failures: ElectionFailure[] = [];
    try {
      let list: { candidates: CandidateRegion[]; edgeChoice: string | null };
      const listUrl = `${this.d.edge.replace(/\/+$/, '')}/v1/candidates`;
      try {
        list = await timed(clock, options.timeoutMs, all.signal, (signal) => this.candidates(listUrl, signal));
      } catch (err) {
        failures.push({ region: 'edge', url: listUrl, error: message(err) });
        return { ranked: [], failures, edgeChoice: null, tookMs: clock.now() - started };
      }
      const top = list.candidates.slice(0, Math.max(1, options.candidates));
      const probed = await Promise.all(
        top.map(async (c): Promise<ProbedRegion | undefined> => {
          try {
            const samples = await this.probe(c.url, all.signal);
            return { ...c, samples, rttMs: median(samples) };
          } catch (err) {
            failures.push({ region: c.region, url: c.url, error: message(err) });
            return undefined;
          }
        }),
      );
      const ranked = probed.filter((p): p is ProbedRegion => p !== undefined).sort((a, b) => a.rttMs - b.rttMs || (b.score ?? 0) - (a.score ?? 0));
      return { ranked, failures, edgeChoice: list.edgeChoice, tookMs: clock.now() - started };
    } finally {
      clock.clearTimeout(deadline);
    }
  }

  private async candidates(url: string, signal: AbortSignal): Promise<{ candidates: CandidateRegion[]; edgeChoice: string | null }> {
    const res = await this.d.fetch(url, { cache: 'no-store', signal, headers: { accept: 'application/json' } });
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      throw new Error(`the edge answered ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}`);
    }
    const body = (await res.json()) as { region?: unknown; candidates?: unknown };
    if (!Array.isArray(body.candidates)) throw new Error('the edge answered without a candidates list');
    const out: CandidateRegion[] = [];
    for (const c of body.candidates as Record<string, unknown>[]) {
      if (typeof c.region !== 'string' || typeof c.url !== 'string' || typeof c.wsUrl !== 'string') continue;
      out.push({ region: c.region, url: c.url, wsUrl: c.wsUrl, score: typeof c.score === 'number' ? c.score : null });
    }
    return { candidates: out, edgeChoice: typeof body.region === 'string' ? body.region : null };
  }

  /** One warm-up request, then `samples` timed ones, in sequence on the kept-alive connection. */
  private async probe(base: string, outer: AbortSignal): Promise<number[]> {
    const { clock, options } = this.d;
    const url = `${base.replace(/\/+$/, '')}/health`;
    const once = async (): Promise<number> => {
      const t0 = clock.now();
      await timed(clock, options.probeTimeoutMs, outer, async (signal) => {
        const res = await this.d.fetch(url, { cache: 'no-store', mode: 'no-cors', signal });
        // An opaque (no-cors) answer is a live server too; an error status from it is not.
        if (res.type !== 'opaque' && !res.ok) throw new Error(`${url} answered ${res.status}`);
        await res.text();
      });
      return clock.now() - t0;
    };
    await once();
    const samples: number[] = [];
    for (let i = 0; i < Math.max(1, options.samples); i++) samples.push(await once());
    return samples;
  }
}
