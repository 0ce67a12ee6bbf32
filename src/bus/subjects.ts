/**
 * The subject scheme: the one place that knows how Meridian names things on the bus.
 *
 * Every subject starts with `mrd.` and is built by a helper here; no other module writes subject
 * strings. User-supplied ids (users, rooms, services) become single tokens through `token()`, so
 * an id containing `.`, `*`, `>` or spaces can never widen a subscription or split a subject.
 *
 * Scheme (later capabilities add their rows here and in docs/architecture.md):
 *   mrd.sys.ping.<region>                 liveness ping of a region's bus (tests, `meridian up`)
 *   mrd.sys.status.<region>               a region node's live state (draining, sessions), for /v1/regions
 *   mrd.user.<user>                       deliveries to a user, wherever connected
 *   mrd.room.<room>                       deliveries to a room's members
 *   mrd.userin.<region>.<user>            deliveries of strict-residency conversations, to a user's
 *   mrd.roomin.<region>.<room>            sessions (room's members) in one allowed region (src/residency)
 *   mrd.node.<region>.<node>              control messages to one region node
 *   mrd.svc.<service>                     service calls (queue group `svc`: local first)
 *   mrd.fn.<function>                     function invocations (queue group `fn`)
 *   mrd.fnw.<worker>                      invocations of one in-process function worker (src/services)
 *   mrd.log.<log>.<conversation>          message log entries (stream MRD_LOG_<log>, src/log)
 *   mrd.loghead.<log>.<conversation>      a conversation's highest seq (stream MRD_LOGHEAD_<log>)
 *   mrd.logrpc.<region>                   sends/reads forwarded to a conversation's home region
 *   mrd.failover.<region>                 failover probes, fence reads and claims (src/failover)
 *   mrd.erasure.<region>                  "look at the erasure buckets now" (queue group `erasure`, src/erasure)
 *   KV buckets: mrd-<kind>-<region>       named and placed only by src/placement (presence, workers,
 *                                         dlq, audit, inbox, cursors); ids in keys go through kvToken()
 *   _INBOX.<random>                       single-use reply subjects (as NATS clients name them)
 */

import { randomBytes } from 'node:crypto';
import { ErrorCode, MeridianError } from '../errors/mod.js';

export const PREFIX = 'mrd';

const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * Encode an arbitrary id as exactly one subject token. Safe ids pass through unchanged so
 * subjects stay readable; anything else becomes `~` + base64url(utf8).
 */
export function token(id: string): string {
  if (id.length === 0) {
    throw new MeridianError(ErrorCode.BusInvalidSubject, 'an id used in a subject must not be empty');
  }
  if (SAFE_TOKEN.test(id)) return id;
  return '~' + Buffer.from(id, 'utf8').toString('base64url');
}

/** Inverse of `token()`. */
export function untoken(tok: string): string {
  return tok.startsWith('~') ? Buffer.from(tok.slice(1), 'base64url').toString('utf8') : tok;
}

export const subjects = {
  ping: (region: string) => `${PREFIX}.sys.ping.${token(region)}`,
  /** Region nodes answer requests here with their live state (src/node). */
  status: (region: string) => `${PREFIX}.sys.status.${token(region)}`,
  user: (user: string) => `${PREFIX}.user.${token(user)}`,
  room: (room: string) => `${PREFIX}.room.${token(room)}`,
  /** A strict-residency conversation's deliveries to a user's sessions in `region` only. */
  userIn: (region: string, user: string) => `${PREFIX}.userin.${token(region)}.${token(user)}`,
  /** A strict-residency room's deliveries to its members in `region` only. */
  roomIn: (region: string, room: string) => `${PREFIX}.roomin.${token(region)}.${token(room)}`,
  node: (region: string, node: string) => `${PREFIX}.node.${token(region)}.${token(node)}`,
  service: (name: string) => `${PREFIX}.svc.${token(name)}`,
  fn: (name: string) => `${PREFIX}.fn.${token(name)}`,
  /** CloudEvents for one in-process function worker (worker SDK, in-process mode). */
  fnWorker: (worker: string) => `${PREFIX}.fnw.${token(worker)}`,
  /** A conversation's entries in message log `log` (src/log). */
  log: (log: string, conversation: string) => `${PREFIX}.log.${token(log)}.${token(conversation)}`,
  /** A conversation's sequence high-water mark in message log `log`. */
  logHead: (log: string, conversation: string) => `${PREFIX}.loghead.${token(log)}.${token(conversation)}`,
  allLog: (log: string) => `${PREFIX}.log.${token(log)}.*`,
  allLogHead: (log: string) => `${PREFIX}.loghead.${token(log)}.*`,
  /** Appends and reads forwarded to a conversation's home region (queue group `logrpc`). */
  logRpc: (region: string) => `${PREFIX}.logrpc.${token(region)}`,
  /** Failover: region probes, fence reads and takeover claims (queue group `failover`, src/failover). */
  failover: (region: string) => `${PREFIX}.failover.${token(region)}`,
  /** A nudge to a region's nodes: an erasure was requested, look at the buckets now (src/erasure). */
  erasure: (region: string) => `${PREFIX}.erasure.${token(region)}`,
  /** Subscription patterns. */
  allUsers: () => `${PREFIX}.user.*`,
  allRooms: () => `${PREFIX}.room.*`,
} as const;

/** Prefix of reply subjects; the same as a NATS client's, so traces read alike in both buses. */
export const INBOX_PREFIX = '_INBOX';

/** A fresh, unguessable single-use reply subject. */
export function newInbox(): string {
  return `${INBOX_PREFIX}.${randomBytes(12).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
}

const KV_SAFE = /^[A-Za-z0-9_-]+$/;

/**
 * Encode an arbitrary id as exactly one KV key token: safe ids pass unchanged, anything else
 * becomes `=` + base64url(utf8) (`=` cannot start a safe id, so the two never collide).
 */
export function kvToken(id: string): string {
  if (id.length === 0) throw new MeridianError(ErrorCode.KvInvalidKey, 'an id used in a KV key must not be empty');
  if (KV_SAFE.test(id)) return id;
  return '=' + Buffer.from(id, 'utf8').toString('base64url');
}

/** Inverse of `kvToken()`. */
export function unKvToken(tok: string): string {
  return tok.startsWith('=') ? Buffer.from(tok.slice(1), 'base64url').toString('utf8') : tok;
}

export const buckets = {
  name: (name: string) => `${PREFIX}-${name}`,
} as const;

/** JetStream stream names (no `.`, `*`, `>` or spaces: callers pass `[A-Za-z0-9_-]` names). */
export const streams = {
  log: (log: string) => `MRD_LOG_${log}`,
  logHead: (log: string) => `MRD_LOGHEAD_${log}`,
} as const;

const MAX_SUBJECT = 1024;

/** True when `subject` is a valid subject, allowing wildcards only if `wildcards`. */
export function isValidSubject(subject: string, wildcards: boolean): boolean {
  if (subject.length === 0 || subject.length > MAX_SUBJECT) return false;
  const parts = subject.split('.');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.length === 0 || /\s/.test(p) || p.includes('\0')) return false;
    if (p === '*' || p === '>') {
      if (!wildcards) return false;
      if (p === '>' && i !== parts.length - 1) return false;
      continue;
    }
    if (p.includes('*') || p.includes('>')) return false;
  }
  return true;
}

export function assertPublishSubject(subject: string): void {
  if (!isValidSubject(subject, false)) {
    throw new MeridianError(ErrorCode.BusInvalidSubject, `invalid publish subject ${JSON.stringify(subject)}: dot-separated non-empty tokens, no spaces, no wildcards`, { details: { subject } });
  }
}

export function assertSubscribeSubject(subject: string): void {
  if (!isValidSubject(subject, true)) {
    throw new MeridianError(ErrorCode.BusInvalidSubject, `invalid subscription subject ${JSON.stringify(subject)}: dot-separated non-empty tokens; '*' and '>' only as whole tokens, '>' last`, { details: { subject } });
  }
}

export function assertQueueName(queue: string): void {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(queue)) {
    throw new MeridianError(ErrorCode.BusInvalidQueue, `invalid queue group ${JSON.stringify(queue)}: 1-128 characters of [A-Za-z0-9_.-]`, { details: { queue } });
  }
}

/** Does a concrete subject match a pattern with `*` / `>` tokens? */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]!;
    if (pt === '>') return s.length > i;
    const st = s[i];
    if (st === undefined) return false;
    if (pt !== '*' && pt !== st) return false;
  }
  return p.length === s.length;
}

const KV_KEY = /^[-/=.\w]+$/;
export function assertKvKey(key: string, pattern = false): void {
  const ok = pattern
    ? isValidSubject(key, true) && key.split('.').every((t) => t === '*' || t === '>' || KV_KEY.test(t))
    : KV_KEY.test(key) && !key.startsWith('.') && !key.endsWith('.') && !key.includes('..');
  if (!ok) {
    throw new MeridianError(ErrorCode.KvInvalidKey, `invalid KV key ${JSON.stringify(key)}: dot-separated tokens of [A-Za-z0-9_=/-]`, { details: { key } });
  }
}

export function assertBucketName(bucket: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(bucket)) {
    throw new MeridianError(ErrorCode.KvInvalidBucket, `invalid KV bucket ${JSON.stringify(bucket)}: 1-64 characters of [A-Za-z0-9_-]`, { details: { bucket } });
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export function assertHeaders(headers: Record<string, string> | undefined): void {
  if (!headers) return;
  for (const [k, v] of Object.entries(headers)) {
    if (!HEADER_NAME.test(k) || typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw new MeridianError(ErrorCode.BusInvalidHeader, `invalid header ${JSON.stringify(k)}: names are HTTP tokens, values one line`, { details: { header: k } });
    }
  }
}
