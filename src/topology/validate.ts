/**
 * Cross-reference checks that a shape schema cannot express: unique names, known fallback and
 * pool regions, weights that sum to 1, links between known regions. They read the raw document
 * defensively, so they run (and report) even when the shape check found problems elsewhere:
 * a user sees every problem of the file in one pass.
 */
import { expandCountries } from './countries.js';
import { egressEntryProblem } from './egress.js';
import { trustsEveryone } from '../http/client-address.js';
import { DEFAULT_WEIGHTS } from './schema.js';
import type { Topology } from './schema.js';

export interface Finding {
  path: (string | number)[];
  message: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');

// Conversation ids never hold control characters (src/protocol/conversation.ts).
// eslint-disable-next-line no-control-regex
const BAD_GLOB_CHAR = /[\u0000-\u001f\u007f-\u009f]/;

/** Whether a `*` glob can match some conversation id (`dm:a:b`, `room:r`): its text before the first star must fit. */
function canMatchConversation(pattern: string): boolean {
  const star = pattern.indexOf('*');
  const lead = star < 0 ? pattern : pattern.slice(0, star);
  return ['dm:', 'room:'].some((kind) => lead.startsWith(kind) || (star >= 0 && kind.startsWith(lead)));
}

/**
 * Problems of an ordered list of `match` rules (first match wins): a pattern no conversation id
 * can match (control characters, or not starting like `dm:…`/`room:…`), and a rule after a
 * catch-all `*`, which can never match.
 */
function conversationRuleProblems(at: (string | number)[], rules: unknown[], what: string): Finding[] {
  const out: Finding[] = [];
  let catchAll: number | undefined;
  rules.map(obj).forEach((rule, i) => {
    const match = str(rule.match);
    // An empty pattern is the shape check's to report.
    if (match === undefined || match === '') return;
    if (BAD_GLOB_CHAR.test(match)) out.push({ path: [...at, i, 'match'], message: `pattern ${JSON.stringify(match)} has control characters, which no conversation id has` });
    else if (!canMatchConversation(match)) out.push({ path: [...at, i, 'match'], message: `pattern ${JSON.stringify(match)} can match no conversation: ids look like "room:<room>" or "dm:<user>:<user>" (e.g. "room:support-*")` });
    if (catchAll !== undefined) out.push({ path: [...at, i, 'match'], message: `${what} rule ${i} ("${match}") can never match: rule ${catchAll} ("*") matches every conversation first` });
    else if (/^\*+$/.test(match)) catchAll = i;
  });
  return out;
}

/** An id two lists of `*` globs can both match (the first pair of patterns that share one); undefined when none can. */
function overlapWitness(a: readonly string[], b: readonly string[]): string | undefined {
  for (const p of a) {
    for (const q of b) {
      const id = commonMatch(p, q);
      if (id !== undefined) return id;
    }
  }
  return undefined;
}

/**
 * An id both `*` globs match, or undefined when there is none: a breadth-first search over pairs
 * of positions in the two patterns (a star consumes any character, or none, and lets the other
 * pattern's literal through), so it is exact, not a guess from a few sample ids.
 */
function commonMatch(p: string, q: string): string | undefined {
  const width = q.length + 1;
  const chars = [...new Set((p + q).replaceAll('*', ''))];
  const parent = new Map<number, readonly [number, string]>([[0, [-1, '']]]);
  const queue = [0];
  for (let k = 0; k < queue.length; k++) {
    const s = queue[k]!;
    const i = Math.floor(s / width);
    const j = s % width;
    if (i === p.length && j === q.length) {
      let id = '';
      for (let t = s; t > 0; t = parent.get(t)![0]) id = parent.get(t)![1] + id;
      // Only two all-star patterns share the empty id alone; they share every id.
      return id.length > 0 ? id : 'x';
    }
    const visit = (ni: number, nj: number, c: string): void => {
      const t = ni * width + nj;
      if (!parent.has(t)) {
        parent.set(t, [s, c]);
        queue.push(t);
      }
    };
    if (p[i] === '*') visit(i + 1, j, '');
    if (q[j] === '*') visit(i, j + 1, '');
    for (const c of chars) {
      const ni = p[i] === '*' ? i : p[i] === c ? i + 1 : -1;
      const nj = q[j] === '*' ? j : q[j] === c ? j + 1 : -1;
      if (ni >= 0 && nj >= 0 && (ni !== i || nj !== j)) visit(ni, nj, c);
    }
  }
  return undefined;
}

/**
 * Warnings: a valid topology that will not do what its author likely wants: residency rules that
 * place data in a single region (no replica, so no failover for their conversations), a region's
 * SLO availability that the global errorRate overrides as its budget, a trusted-proxy entry
 * that trusts every address.
 */
export function topologyWarnings(t: Topology): Finding[] {
  const out: Finding[] = [];
  // Valid, but then any client may write its own address into X-Forwarded-For: its own rate
  // limits, someone else's bucket, any audit `from`.
  (t.trustedProxies ?? []).forEach((entry, i) => {
    if (trustsEveryone(entry)) out.push({ path: ['trustedProxies', i], message: `${entry} trusts every address as a proxy: any client can then choose the address its rate limits and audit entries use; list the proxies' own addresses or CIDRs` });
  });
  t.residency.forEach((rule, i) => {
    const allowed = t.regions.filter((r) => rule.jurisdictions.includes(r.jurisdiction)).map((r) => r.name);
    const places = rule.users.length > 0 || rule.rooms.length > 0;
    if (places && allowed.length === 1 && t.replication.replicas > 0) out.push({ path: ['residency', i, 'jurisdictions'], message: `rule "${rule.name}" allows only ${allowed[0]!}: its conversations have no replica region, so no failover (they are unavailable while ${allowed[0]!} is down)` });
  });
  // The error budget is errorRate when set, else 1 - availability: a region that tightens only
  // its availability under a global errorRate keeps the global budget for its burn rate.
  for (const [region, own] of Object.entries(t.slo.regions ?? {})) {
    if (own.availability !== undefined && own.errorRate === undefined && t.slo.errorRate !== undefined) {
      out.push({ path: ['slo', 'regions', region, 'availability'], message: `region ${region} sets availability but inherits errorRate ${t.slo.errorRate}, which stays its error budget (burn rate): set errorRate for ${region} too` });
    }
  }
  return out;
}

export function crossCheck(raw: unknown): Finding[] {
  const doc = obj(raw);
  const out: Finding[] = [];
  const regions = arr(doc.regions).map(obj);
  const names = new Set<string>();
  regions.forEach((r, i) => {
    const name = str(r.name);
    if (name === undefined) return;
    if (names.has(name)) out.push({ path: ['regions', i, 'name'], message: `duplicate region name "${name}"` });
    names.add(name);
  });
  const list = [...names].join(', ');
  const checkRef = (n: unknown, path: (string | number)[], what: string): void => {
    if (typeof n === 'string' && !names.has(n)) out.push({ path, message: `unknown region "${n}" in ${what} (known: ${list})` });
  };

  regions.forEach((r, i) => {
    arr(r.fallback).forEach((f, j) => {
      if (f === r.name) out.push({ path: ['regions', i, 'fallback', j], message: `region "${String(f)}" cannot fall back to itself` });
      else checkRef(f, ['regions', i, 'fallback', j], 'fallback');
    });
  });

  arr(obj(doc.placement).conversations).map(obj).forEach((rule, i) => {
    arr(rule.regions).forEach((n, j) => checkRef(n, ['placement', 'conversations', i, 'regions', j], 'placement rule'));
  });

  // Replication needs somewhere to put the copy: when the file asks for replicas, every placement
  // rule must allow one more region than that (the default, 1, quietly means "none" for a
  // conversation with nowhere else to go, e.g. in a one-region topology), and the defaults must
  // be allowed.
  const replication = obj(doc.replication);
  const replicas = typeof replication.replicas === 'number' ? replication.replicas : 0;
  if (replicas > 0) {
    if (names.size > 0 && names.size < replicas + 1) out.push({ path: ['replication', 'replicas'], message: `${replicas} replica(s) need ${replicas + 1} regions; the topology has ${names.size} (set replication.replicas: 0)` });
    arr(obj(doc.placement).conversations).map(obj).forEach((rule, i) => {
      const n = arr(rule.regions).length;
      if (n > 0 && n < replicas + 1) out.push({ path: ['placement', 'conversations', i, 'regions'], message: `rule "${String(rule.match)}" allows ${n} region(s), but replication.replicas: ${replicas} needs ${replicas + 1} (add a region or set replicas: 0)` });
    });
  }
  const allowed = strs(replication.allow);
  if (allowed.length > 0) {
    if (typeof replication.durability === 'string' && !allowed.includes(replication.durability)) out.push({ path: ['replication', 'durability'], message: `default durability "${replication.durability}" is not in replication.allow (${allowed.join(', ')})` });
    arr(replication.conversations).map(obj).forEach((rule, i) => {
      if (typeof rule.durability === 'string' && !allowed.includes(rule.durability)) out.push({ path: ['replication', 'conversations', i, 'durability'], message: `durability "${rule.durability}" is not in replication.allow (${allowed.join(', ')})` });
    });
  }

  out.push(...conversationRuleProblems(['retention', 'conversations'], arr(obj(doc.retention).conversations), 'retention'));

  const routing = obj(doc.routing);
  if (routing.weights !== undefined) {
    const w = { ...DEFAULT_WEIGHTS, ...obj(routing.weights) } as Record<string, unknown>;
    const parts = [w.proximity, w.health, w.latency, w.cost];
    if (parts.every((p) => typeof p === 'number')) {
      const sum = (parts).reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > 1e-6) {
        out.push({ path: ['routing', 'weights'], message: `routing weights must sum to 1 (proximity + health + latency + cost = ${+sum.toFixed(6)})` });
      }
    }
  }

  const seenCountry = new Map<string, number>();
  arr(routing.countries).map(obj).forEach((rule, i) => {
    arr(rule.regions).forEach((n, j) => checkRef(n, ['routing', 'countries', i, 'regions', j], 'country rule'));
    for (const c of expandCountries(strs(rule.countries))) {
      const prev = seenCountry.get(c);
      if (prev !== undefined) out.push({ path: ['routing', 'countries', i, 'countries'], message: `country ${c} is already routed by rule ${prev}` });
      else seenCountry.set(c, i);
    }
  });
  arr(routing.default).forEach((n, j) => checkRef(n, ['routing', 'default', j], 'default pool'));

  const jurisdictions = new Set(regions.map((r) => str(r.jurisdiction)));
  const rules = arr(doc.residency).map(obj);
  const ruleNames = new Map<string, number>();
  rules.forEach((rule, i) => {
    const name = str(rule.name);
    if (name !== undefined) {
      if (ruleNames.has(name)) out.push({ path: ['residency', i, 'name'], message: `duplicate residency rule name "${name}" (rule ${ruleNames.get(name)!} has it)` });
      else ruleNames.set(name, i);
    }
    arr(rule.jurisdictions).forEach((j, k) => {
      if (typeof j === 'string' && !jurisdictions.has(j)) {
        out.push({ path: ['residency', i, 'jurisdictions', k], message: `no region has jurisdiction ${j}: rule "${String(rule.name)}" could never be served` });
      }
    });
    if (rule.mode === 'strict' && rule.strict === false) out.push({ path: ['residency', i, 'strict'], message: `rule "${String(rule.name)}" is mode: strict (never relayed elsewhere), so its clients must be steered strictly too: remove strict: false` });
    if (strs(rule.userJurisdictions).length > 0 && strs(rule.users).length === 0) {
      out.push({ path: ['residency', i, 'userJurisdictions'], message: `rule "${String(rule.name)}" covers users by their jurisdiction claim but names no users patterns: data is placed by user id, so give the ids these users have (e.g. users: ["eu-*"])` });
    }
  });
  // Overlaps are resolved by "strictest wins" (the intersection of the rules' regions); rules
  // that can cover the same user or room and share no region leave it nowhere to be stored.
  const regionsOf = (rule: Obj): string[] => regions.filter((r) => strs(rule.jurisdictions).includes(str(r.jurisdiction) ?? '')).map((r) => str(r.name) ?? '');
  for (let i = 0; i < rules.length; i++) {
    for (let j = i + 1; j < rules.length; j++) {
      const a = rules[i]!;
      const b = rules[j]!;
      if (regionsOf(a).some((r) => regionsOf(b).includes(r))) continue;
      for (const field of ['users', 'rooms'] as const) {
        const common = overlapWitness(strs(a[field]), strs(b[field]));
        if (common !== undefined) out.push({ path: ['residency', j, field], message: `rules "${String(a.name)}" and "${String(b.name)}" both cover ${field} like ${JSON.stringify(common)} but allow no region in common: such ${field} could be stored nowhere` });
      }
    }
  }
  // A placement rule pins conversations to its regions; residency to the rules' regions. A
  // conversation both cover with no region in common could be placed nowhere.
  arr(obj(doc.placement).conversations).map(obj).forEach((p, i) => {
    const match = str(p.match);
    if (match === undefined || match === '') return;
    const pinned = strs(p.regions);
    rules.forEach((rule) => {
      if (pinned.some((r) => regionsOf(rule).includes(r))) return;
      const ids = [...strs(rule.rooms).map((g) => `room:${g}`), ...strs(rule.users).flatMap((g) => [`dm:${g}:*`, `dm:*:${g}`])];
      const common = ids.map((id) => commonMatch(match, id)).find((x) => x !== undefined);
      if (common !== undefined) out.push({ path: ['placement', 'conversations', i, 'regions'], message: `placement rule "${match}" pins conversations like ${JSON.stringify(common)} to ${pinned.join(', ')}, but residency rule "${String(rule.name)}" allows only ${regionsOf(rule).join(', ')}: they could be placed nowhere` });
    });
  });

  // Function placement names regions of this topology.
  for (const [fn, decl] of Object.entries(obj(doc.functions))) {
    for (const region of Object.keys(obj(obj(decl).placement))) checkRef(region, ['functions', fn, 'placement', region], `placement of function "${fn}"`);
  }

  // Per-region SLO targets name regions of this topology (a typo would silently hold no one to them).
  for (const region of Object.keys(obj(obj(doc.slo).regions))) checkRef(region, ['slo', 'regions', region], 'slo.regions');

  arr(obj(doc.wan).links).map(obj).forEach((l, i) => {
    const between = arr(l.between);
    between.forEach((n, j) => checkRef(n, ['wan', 'links', i, 'between', j], 'WAN link'));
    if (between.length === 2 && between[0] === between[1]) out.push({ path: ['wan', 'links', i, 'between'], message: 'a WAN link joins two different regions' });
  });

  const egressEntries = (list: unknown, at: (string | number)[]): void =>
    arr(list).forEach((entry, i) => {
      const problem = typeof entry === 'string' ? egressEntryProblem(entry) : undefined;
      if (problem !== undefined) out.push({ path: [...at, i], message: problem });
    });
  egressEntries(obj(doc.egress).allow, ['egress', 'allow']);
  for (const [region, own] of Object.entries(obj(obj(doc.egress).regions))) {
    checkRef(region, ['egress', 'regions', region], 'egress.regions');
    egressEntries(obj(own).allow, ['egress', 'regions', region, 'allow']);
  }
  return out;
}
