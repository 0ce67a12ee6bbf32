/**
 * What `meridian doctor` reads and what it reports.
 *
 * A doctor run has two halves: `collect.ts` fetches everything once (NATS monitoring JSON, region
 * node probes, peer certificates) into a `Snapshot`, and the checks under `checks/` are pure
 * functions from that snapshot to report lines. Keeping the I/O apart lets every verdict rule be
 * tested by tables of real-shaped JSON, and makes `--json` output the same data the table shows.
 */
import type { Topology } from '../topology/mod.js';
import type { Gatewayz, Jsz, Routez, Varz } from './nats-json.js';

export type Verdict = 'ok' | 'warn' | 'FAIL';

/** One line of the report: `check | subject | verdict | detail`. */
export interface CheckLine {
  /** The kind of check (`gateway`, `meta quorum`, …); lines of one kind are printed together. */
  readonly check: string;
  /** What was checked: a region, a server, a pair of regions, a stream. */
  readonly subject: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

/** Something to probe: a URL, and the region the operator says it belongs to. */
export interface Target {
  readonly region: string;
  readonly url: string;
}

/** One NATS server as its monitoring endpoint showed it. */
export interface ServerProbe {
  /** The region the operator named for this monitoring URL. */
  readonly region: string;
  readonly url: string;
  /** Why the server could not be read (connection refused, timeout, HTTP status); then no JSON. */
  readonly error?: string;
  readonly varz?: Varz;
  readonly gatewayz?: Gatewayz;
  readonly jsz?: Jsz;
  readonly routez?: Routez;
  /** Local clock (ms since the epoch) halfway through the /varz request, and its round trip. */
  readonly varzClock?: { readonly midMs: number; readonly rttMs: number };
}

/** A region node's /ready and /health answers. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface NodeProbe {
  readonly region: string;
  readonly url: string;
  readonly error?: string;
  readonly ready?: HttpAnswer;
  readonly health?: HttpAnswer;
}

/** The certificate a TLS endpoint presented. */
export interface CertProbe {
  /** What the endpoint is (`NATS client`, `NATS monitor`, `region node`). */
  readonly kind: string;
  readonly region: string;
  /** host:port. */
  readonly endpoint: string;
  /** The handshake failed, or the endpoint does not speak TLS although its URL says so. */
  readonly error?: string;
  /** Expiry (ISO 8601). */
  readonly notAfter?: string;
  readonly subjectCn?: string;
  readonly issuerCn?: string;
  /** Why the chain did not verify against the operator's CA (`--ca`); only set when one was given. */
  readonly untrusted?: string;
}

export interface Snapshot {
  readonly topology: Topology;
  readonly servers: readonly ServerProbe[];
  /** Undefined when no region node URLs were given (`--regions`). */
  readonly nodes?: readonly NodeProbe[];
  readonly certs: readonly CertProbe[];
  /** When the snapshot was taken (ms since the epoch): certificate expiry is counted from it. */
  readonly takenAtMs: number;
}

/** A check: a pure function of the snapshot. */
export type Check = (s: Snapshot) => CheckLine[];
