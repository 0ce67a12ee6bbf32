/**
 * The residency property (issue 12), shared by the embedded and the NATS test: for a random
 * topology (regions with random jurisdictions, random data rules over them, store or strict),
 * random users under those rules or none, random direct conversations and rooms sent through
 * random regions while one random region is lost for a while (its takeovers happen), every stored
 * byte of each conversation — its payload markers, and its id in any form (as is, as a subject
 * token, as a KV key) — is found, reading every region's storage directly, only in regions its
 * rules allow. Sends may be refused (residency, a region down); what is stored must be in place.
 */
import fc from 'fast-check';
import { kvToken, token } from '../../src/bus/subjects.js';
import { dmConversation, roomConversation } from '../../src/protocol/mod.js';
import { Residency } from '../../src/residency/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { sleep } from '../e2e/helpers.js';

export interface PropertyRun {
  readonly urls: Readonly<Record<string, string>>;
  kill(region: string): Promise<void>;
  revive(region: string): Promise<void>;
  /** Every region's storage as text blobs (read directly, not through Meridian). */
  scan(): Promise<Record<string, { where: string; text: string }[]>>;
  close(): Promise<void>;
}

/** Start Meridian on `topology` (its regions' names are the driver's). */
export type PropertyDriver = (topology: Topology) => Promise<PropertyRun>;

const PLACES: Record<string, { lat: number; lon: number }> = {
  'us-east': { lat: 39.04, lon: -77.49 },
  'eu-west': { lat: 53.35, lon: -6.26 },
  'ap-southeast': { lat: 1.35, lon: 103.82 },
  'eu-central': { lat: 50.11, lon: 8.68 },
  'us-west': { lat: 45.52, lon: -122.68 },
};
const JURISDICTIONS = ['EU', 'US', 'SG'] as const;

export interface Scenario {
  readonly regions: readonly { name: string; jurisdiction: string }[];
  readonly rules: readonly { prefix: string; jurisdictions: readonly string[]; mode: 'store' | 'strict'; rooms: boolean }[];
  /** Conversations: a DM between two users (prefix index, or -1 for no rule), or a room (prefix index or -1). */
  readonly conversations: readonly ({ kind: 'dm'; a: number; b: number } | { kind: 'room'; r: number })[];
  /** Sends: conversation index, the region (index) it goes through. */
  readonly sends: readonly { c: number; via: number }[];
  /** The region lost during traffic, and after how many sends it is lost and comes back. */
  readonly loss: { region: number; from: number; to: number };
}

/** Scenarios over the given region names (3–5 of PLACES' names, or fixed ones for NATS). */
export function scenarios(regionNames: fc.Arbitrary<readonly string[]>): fc.Arbitrary<Scenario> {
  return regionNames
    .chain((names) => fc.tuple(...names.map((name) => fc.constantFrom(...JURISDICTIONS).map((jurisdiction) => ({ name, jurisdiction })))))
    .chain((regions) => {
      // Rules over the jurisdictions some region has (a rule no region serves is refused by validate).
      const present = [...new Set(regions.map((r) => r.jurisdiction))];
      const rule = fc.record({ j: fc.constantFrom(...present), extra: fc.option(fc.constantFrom(...present), { nil: undefined }), mode: fc.constantFrom('store' as const, 'strict' as const), rooms: fc.boolean() });
      return fc.record({ regions: fc.constant(regions), rules: fc.uniqueArray(rule, { minLength: 1, maxLength: 3, selector: (r) => r.j }) });
    })
    .chain(({ regions, rules }) => {
      const kept = rules.map((r) => ({ prefix: `${r.j.toLowerCase()}-`, jurisdictions: [...new Set([r.j, ...(r.extra === undefined ? [] : [r.extra])])], mode: r.mode, rooms: r.rooms }));
      const who = fc.integer({ min: -1, max: kept.length - 1 });
      return fc
        .record({
          conversations: fc.array(fc.oneof(fc.record({ kind: fc.constant('dm' as const), a: who, b: who }), fc.record({ kind: fc.constant('room' as const), r: who })), { minLength: 4, maxLength: 10 }),
          loss: fc.record({ region: fc.nat({ max: regions.length - 1 }), from: fc.nat({ max: 10 }), to: fc.integer({ min: 12, max: 30 }) }),
        })
        .chain((s) =>
          fc
            .array(fc.record({ c: fc.nat({ max: s.conversations.length - 1 }), via: fc.nat({ max: regions.length - 1 }) }), { minLength: 20, maxLength: 40 })
            .map((sends): Scenario => ({ regions, rules: kept, ...s, sends })),
        );
    });
}

export function topologyOf(s: Scenario): Topology {
  const regions = s.regions.map((r) => `  - { name: ${r.name}, location: { lat: ${PLACES[r.name]?.lat ?? 0}, lon: ${PLACES[r.name]?.lon ?? 0} }, jurisdiction: ${r.jurisdiction} }`).join('\n');
  const rules = s.rules.map((r) => `  - { name: ${r.prefix}rule, users: ["${r.prefix}*"], ${r.rooms ? `rooms: ["${r.prefix}*"], ` : ''}jurisdictions: [${r.jurisdictions.join(', ')}], mode: ${r.mode} }`).join('\n');
  return parseTopology(`regions:\n${regions}\nresidency:\n${rules}\nreplication:\n  failoverAfterMs: 1000\n`, '<property>');
}

/** Run one scenario; returns the problems found (empty: the property holds). */
export async function runScenario(driver: PropertyDriver, s: Scenario, runTag: string): Promise<string[]> {
  const topology = topologyOf(s);
  const residency = new Residency(topology);
  const user = (rule: number, i: number): string => `${rule < 0 ? 'u-' : s.rules[rule]!.prefix}${runTag}${i}`;
  const ids = s.conversations.map((c, i) => (c.kind === 'dm' ? dmConversation(user(c.a, 2 * i), user(c.b, 2 * i + 1)) : roomConversation(`${c.r < 0 ? 'r-' : s.rules[c.r]!.prefix}${runTag}room${i}`)));
  const senders = s.conversations.map((c, i) => (c.kind === 'dm' ? user(c.a, 2 * i) : user(c.r, 2 * i)));
  const peers = s.conversations.map((c, i) => (c.kind === 'dm' ? user(c.b, 2 * i + 1) : ''));
  const marker = (c: number, n: number): string => `MRK${runTag}c${c}n${n}Z`;
  const run = await driver(topology);
  const names = topology.regions.map((r) => r.name);
  const lost = names[s.loss.region]!;
  try {
    let down = false;
    let accepted = 0;
    for (const [n, send] of s.sends.entries()) {
      if (n === s.loss.from && !down) {
        await run.kill(lost);
        down = true;
      }
      if (n === s.loss.to && down) {
        await run.revive(lost);
        down = false;
      }
      const c = s.conversations[send.c]!;
      const to = c.kind === 'dm' ? { user: peers[send.c]! } : { room: ids[send.c]!.slice('room:'.length) };
      const url = run.urls[names[send.via]!]!;
      const res = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: senders[send.c], to, body: { m: marker(send.c, n) }, clientMsgId: `cm${n}` }),
        signal: AbortSignal.timeout(3000),
      }).catch(() => undefined);
      if (res?.status === 201) accepted++;
      // A takeover needs time to happen while the region is down.
      if (down) await sleep(150);
    }
    if (down) await run.revive(lost);
    // Copies (and the returning region's catch-up) settle.
    await sleep(2500);
    const stored = await run.scan();
    // The property is only worth something if data was stored. Sends the rules refuse (through a
    // region a strict rule excludes, a covered user into a room stored elsewhere, users whose rules
    // share no region) and sends while a region is lost do not count; of the others at least a
    // quarter must have been accepted.
    const permitted = s.sends.filter((x, n) => {
      if (n >= s.loss.from && n < s.loss.to) return false;
      try {
        residency.checkSend(senders[x.c]!, ids[x.c]!);
        residency.checkServe(ids[x.c]!, names[x.via]!);
        return true;
      } catch {
        return false;
      }
    }).length;
    const problems: string[] = accepted >= permitted / 4 ? [] : [`only ${accepted} sends were accepted, of ${permitted} the rules permit outside the loss (${s.sends.length} in all)`];
    ids.forEach((id, c) => {
      const allowed = residency.scopeOf(id).regions;
      if (allowed === undefined) return;
      const needles = [...new Set([id, token(id), kvToken(id)]), ...s.sends.flatMap((x, n) => (x.c === c ? [marker(c, n)] : []))];
      for (const region of names) {
        if (allowed.includes(region)) continue;
        const hits = (stored[region] ?? []).filter((b) => needles.some((x) => b.text.includes(x))).map((b) => b.where);
        if (hits.length > 0) problems.push(`${id} (allowed: ${allowed.join(', ') || 'none'}) found in ${region}: ${hits.slice(0, 3).join('; ')}`);
      }
    });
    return problems;
  } finally {
    await run.close();
  }
}
