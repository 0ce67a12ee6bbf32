/**
 * Residency rules (src/residency): which regions may hold a conversation, worked out from its id
 * and the topology alone. Hand-made topologies with two EU regions, one US and one SG: user
 * scopes, direct conversations (the strictest rule wins: the intersection of regions, strict
 * when any rule is), rooms that declare their rule by pattern, conflicts, sends, serving, auth
 * claims, and the placement narrowed to what the rules allow (fast-check, seeded).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation, roomConversation } from '../../src/protocol/mod.js';
import { Residency } from '../../src/residency/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { FOUR_REGIONS_YAML } from './fixtures.js';

const REGIONS = FOUR_REGIONS_YAML;

// Each EU region is nearer us-east than the other EU region: a replica chosen without the rules
// would leave the EU.
const WAN = `wan:
  links:
    - { between: [eu-west, us-east], oneWayMs: 5 }
    - { between: [eu-central, us-east], oneWayMs: 8 }
    - { between: [eu-west, eu-central], oneWayMs: 20 }
`;

const RULES = `residency:
  - name: gdpr
    countries: [EU]
    users: ["eu-*"]
    userJurisdictions: [EU]
    jurisdictions: [EU]
  - name: pdpa
    countries: [SG]
    users: ["sg-*"]
    userJurisdictions: [SG]
    jurisdictions: [SG]
    mode: strict
  - name: ccpa
    users: ["us-*"]
    userJurisdictions: [CA]
    jurisdictions: [US, EU]
  - name: health
    users: ["us-med-*"]
    jurisdictions: [EU]
    mode: strict
  - name: eu-rooms
    rooms: ["eu-*"]
    jurisdictions: [EU]
  - name: vault
    rooms: ["vault-*"]
    jurisdictions: [EU]
    mode: strict
  - name: us-rooms
    rooms: ["us-*"]
    jurisdictions: [US]
  - name: atlantic
    rooms: ["atl-*"]
    jurisdictions: [EU, US]
  - name: steer-jp
    countries: [JP]
    jurisdictions: [SG]
`;

const topology = (extra = ''): Topology => parseTopology(`${REGIONS}${WAN}${RULES}${extra}`, 'residency.yaml');

const EU = ['eu-west', 'eu-central'];
const ALL = ['eu-west', 'eu-central', 'us-east', 'ap-southeast'];

/** The error code `fn` throws (a MeridianError), or 'ok'. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (isMeridianError(err)) return err.code;
    throw err;
  }
}

/** The MeridianError `fn` throws. */
function errorOf(fn: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    if (isMeridianError(err)) return err;
    throw err;
  }
  throw new Error('expected an error');
}

const dm = dmConversation;
const room = roomConversation;

describe('residency scopes', () => {
  const r = new Residency(topology());

  it('a user falls under every rule whose users pattern matches the id, regions in topology order', () => {
    expect(r.ofUser('eu-alice')).toEqual({ regions: EU, mode: 'store', rules: ['gdpr'] });
    expect(r.ofUser('sg-bob')).toEqual({ regions: ['ap-southeast'], mode: 'strict', rules: ['pdpa'] });
    expect(r.ofUser('us-carol')).toEqual({ regions: ['eu-west', 'eu-central', 'us-east'], mode: 'store', rules: ['ccpa'] });
    // Two rules: the intersection of their regions, strict because one of them is.
    expect(r.ofUser('us-med-dan')).toEqual({ regions: EU, mode: 'strict', rules: ['ccpa', 'health'] });
    // No rule: anywhere. Patterns are anchored: "eu" and "xeu-1" are not "eu-*".
    for (const u of ['alice', 'eu', 'xeu-1', 'EU-alice']) expect(r.ofUser(u)).toEqual({ regions: undefined, mode: 'store', rules: [] });
  });

  it('a direct conversation falls under both users\' rules: the intersection, strict when either is', () => {
    expect(r.scopeOf(dm('eu-alice', 'eu-bob'))).toEqual({ regions: EU, mode: 'store', rules: ['gdpr'] });
    expect(r.scopeOf(dm('eu-alice', 'us-carol'))).toEqual({ regions: EU, mode: 'store', rules: ['gdpr', 'ccpa'] });
    expect(r.scopeOf(dm('us-carol', 'us-med-dan'))).toEqual({ regions: EU, mode: 'strict', rules: ['ccpa', 'health'] });
    expect(r.scopeOf(dm('us-carol', 'us-erin'))).toEqual({ regions: ['eu-west', 'eu-central', 'us-east'], mode: 'store', rules: ['ccpa'] });
    // One covered user is enough, whichever side of the (sorted) id they are on.
    expect(r.scopeOf(dm('zed', 'eu-alice'))).toEqual(r.scopeOf(dm('eu-alice', 'zed')));
    expect(r.scopeOf(dm('zed', 'eu-alice')).regions).toEqual(EU);
    expect(r.scopeOf(dm('sg-bob', 'alice'))).toMatchObject({ regions: ['ap-southeast'], mode: 'strict' });
    expect(r.scopeOf(dm('alice', 'bob'))).toEqual({ regions: undefined, mode: 'store', rules: [] });
    // Escaped ids (':' is written %3A) are unescaped before matching.
    expect(r.scopeOf(dm('eu-a:b', 'x%y')).rules).toEqual(['gdpr']);
  });

  it('a room falls under the rules whose rooms pattern matches it, never under users patterns', () => {
    expect(r.scopeOf(room('eu-sales'))).toEqual({ regions: EU, mode: 'store', rules: ['eu-rooms'] });
    expect(r.scopeOf(room('vault-1'))).toEqual({ regions: EU, mode: 'strict', rules: ['vault'] });
    expect(r.scopeOf(room('us-ops'))).toEqual({ regions: ['us-east'], mode: 'store', rules: ['us-rooms'] });
    expect(r.scopeOf(room('atl-x'))).toEqual({ regions: ['eu-west', 'eu-central', 'us-east'], mode: 'store', rules: ['atlantic'] });
    // "sg-*" is a users pattern: a room called sg-lobby is not under pdpa.
    expect(r.scopeOf(room('sg-lobby'))).toEqual({ regions: undefined, mode: 'store', rules: [] });
    expect(r.scopeOf(room('lobby'))).toEqual({ regions: undefined, mode: 'store', rules: [] });
  });

  it('a direct conversation is not under rooms patterns', () => {
    expect(r.scopeOf(dm('vault-1', 'atl-2'))).toEqual({ regions: undefined, mode: 'store', rules: [] });
  });

  it('refuses an id that is not a conversation with INVALID_ARGUMENT', () => {
    expect(codeOf(() => r.scopeOf('eu-alice'))).toBe(ErrorCode.InvalidArgument);
    expect(codeOf(() => r.scopeOf('dm:b:a'))).toBe(ErrorCode.InvalidArgument);
  });

  it('without data rules nothing is confined, and only the steering rule does not make it active', () => {
    const steering = new Residency(parseTopology(`${REGIONS}residency:\n  - { name: gdpr, countries: [EU], jurisdictions: [EU] }\n`));
    expect(steering.active).toBe(false);
    expect(steering.scopeOf(dm('eu-alice', 'sg-bob')).regions).toBeUndefined();
    expect(steering.regionSets()).toEqual([]);
    expect(codeOf(() => steering.checkSend('eu-alice', room('lobby')))).toBe('ok');
    expect(new Residency(topology()).active).toBe(true);
  });

  it('servesStrict names the regions some strict rule allows', () => {
    expect(ALL.filter((x) => r.servesStrict(x))).toEqual(['eu-west', 'eu-central', 'ap-southeast']);
    const storeOnly = new Residency(parseTopology(`${REGIONS}residency:\n  - { name: gdpr, users: ["eu-*"], jurisdictions: [EU] }\n`));
    expect(ALL.filter((x) => storeOnly.servesStrict(x))).toEqual([]);
  });
});

describe('residency conflicts, sends and serving', () => {
  const r = new Residency(topology());

  it('an EU-only user and an SG-only user have nowhere in common: RESIDENCY_CONFLICT naming both rules', () => {
    const c = dm('eu-alice', 'sg-bob');
    expect(r.scopeOf(c)).toMatchObject({ regions: [], rules: ['gdpr', 'pdpa'] });
    const err = errorOf(() => r.storable(c));
    expect(err.code).toBe(ErrorCode.ResidencyConflict);
    expect(err.message).toContain('gdpr, pdpa');
    expect(err.details).toEqual({ conversation: c, rules: ['gdpr', 'pdpa'] });
    expect(codeOf(() => r.storable(dm('us-med-dan', 'sg-bob')))).toBe(ErrorCode.ResidencyConflict);
    expect(r.storable(dm('eu-alice', 'us-carol')).regions).toEqual(EU);
    expect(r.storable(room('lobby')).regions).toBeUndefined();
  });

  it('checkSend refuses a covered user\'s message into a room that may be stored where their rules forbid', () => {
    // Unrestricted room: it may be stored anywhere, so also outside the EU.
    const lobby = errorOf(() => r.checkSend('eu-alice', room('lobby')));
    expect(lobby.code).toBe(ErrorCode.ResidencyForbidden);
    expect(lobby.message).toContain('us-east, ap-southeast');
    expect(lobby.details).toMatchObject({ conversation: 'room:lobby', regions: EU, rules: ['gdpr'] });
    // A room allowed elsewhere, or partly elsewhere.
    expect(codeOf(() => r.checkSend('eu-alice', room('us-ops')))).toBe(ErrorCode.ResidencyForbidden);
    expect(codeOf(() => r.checkSend('eu-alice', room('atl-x')))).toBe(ErrorCode.ResidencyForbidden);
    expect(codeOf(() => r.checkSend('sg-bob', room('vault-1')))).toBe(ErrorCode.ResidencyForbidden);
    expect(codeOf(() => r.checkSend('us-carol', room('lobby')))).toBe(ErrorCode.ResidencyForbidden);
    expect(codeOf(() => r.checkSend('us-med-dan', room('atl-x')))).toBe(ErrorCode.ResidencyForbidden);
  });

  it('checkSend lets a message through when the room stays inside the sender\'s regions, and for uncovered senders', () => {
    expect(codeOf(() => r.checkSend('eu-alice', room('eu-sales')))).toBe('ok');
    expect(codeOf(() => r.checkSend('eu-alice', room('vault-1')))).toBe('ok');
    expect(codeOf(() => r.checkSend('us-carol', room('atl-x')))).toBe('ok');
    expect(codeOf(() => r.checkSend('us-carol', room('us-ops')))).toBe('ok');
    expect(codeOf(() => r.checkSend('us-carol', room('eu-sales')))).toBe('ok');
    for (const c of [room('lobby'), room('us-ops'), room('vault-1')]) expect(codeOf(() => r.checkSend('alice', c))).toBe('ok');
  });

  it('checkSend keeps a strict user\'s messages out of conversations that are not strict, even inside their regions', () => {
    // eu-sales is stored in the EU only, but under `store`: its frames may be relayed through us-east.
    const err = errorOf(() => r.checkSend('us-med-dan', room('eu-sales')));
    expect([err.code, err.message]).toEqual([ErrorCode.ResidencyForbidden, expect.stringContaining('is not strict')]);
    expect(codeOf(() => r.checkSend('us-med-dan', room('vault-1')))).toBe('ok');
    // A direct conversation with a strict user is strict itself.
    expect(codeOf(() => r.checkSend('us-med-dan', dm('us-med-dan', 'eu-alice')))).toBe('ok');
  });

  it('checkSend in a direct conversation: allowed (its scope includes the sender\'s rules) unless it has no region', () => {
    expect(codeOf(() => r.checkSend('eu-alice', dm('eu-alice', 'us-carol')))).toBe('ok');
    expect(codeOf(() => r.checkSend('us-carol', dm('eu-alice', 'us-carol')))).toBe('ok');
    expect(codeOf(() => r.checkSend('alice', dm('alice', 'eu-bob')))).toBe('ok');
    expect(codeOf(() => r.checkSend('eu-alice', dm('eu-alice', 'sg-bob')))).toBe(ErrorCode.ResidencyConflict);
  });

  it('checkServe refuses a strict conversation outside its regions and serves store conversations anywhere', () => {
    for (const region of ALL) {
      expect(codeOf(() => r.checkServe(dm('sg-bob', 'sg-cat'), region))).toBe(region === 'ap-southeast' ? 'ok' : ErrorCode.ResidencyForbidden);
      expect(codeOf(() => r.checkServe(room('vault-1'), region))).toBe(EU.includes(region) ? 'ok' : ErrorCode.ResidencyForbidden);
      expect(codeOf(() => r.checkServe(dm('us-carol', 'us-med-dan'), region))).toBe(EU.includes(region) ? 'ok' : ErrorCode.ResidencyForbidden);
      // Store: at rest in the EU, but served (relayed) anywhere.
      expect(codeOf(() => r.checkServe(dm('eu-alice', 'eu-bob'), region))).toBe('ok');
      expect(codeOf(() => r.checkServe(room('us-ops'), region))).toBe('ok');
      expect(codeOf(() => r.checkServe(room('lobby'), region))).toBe('ok');
      expect(codeOf(() => r.checkServe(dm('eu-alice', 'sg-bob'), region))).toBe(ErrorCode.ResidencyConflict);
    }
    const err = errorOf(() => r.checkServe(room('vault-1'), 'us-east'));
    expect(err.message).toContain('served only in eu-west, eu-central, not in us-east');
    expect(err.details).toEqual({ conversation: 'room:vault-1', regions: EU, rules: ['vault'] });
  });
});

describe('residency claims at auth', () => {
  const r = new Residency(topology());

  it('refuses a jurisdiction nobody knows, and knows those of regions and of userJurisdictions', () => {
    const err = errorOf(() => r.checkClaims('alice', { jurisdiction: 'XX' }));
    expect(err.code).toBe(ErrorCode.AuthResidency);
    expect(err.message).toContain('unknown jurisdiction "XX" (known: CA, EU, SG, US)');
    expect(codeOf(() => r.checkClaims('eu-alice', { jurisdiction: 'XX' }))).toBe(ErrorCode.AuthResidency);
    // US is a region's jurisdiction that no rule covers users by: anyone may claim it.
    expect(codeOf(() => r.checkClaims('alice', { jurisdiction: 'US' }))).toBe('ok');
    // CA is known only from ccpa's userJurisdictions.
    expect(codeOf(() => r.checkClaims('us-carol', { jurisdiction: 'CA' }))).toBe('ok');
    // Even without data rules, an unknown jurisdiction is refused.
    const steering = new Residency(parseTopology(`${REGIONS}residency:\n  - { name: gdpr, countries: [EU], jurisdictions: [EU] }\n`));
    expect(codeOf(() => steering.checkClaims('alice', { jurisdiction: 'CA' }))).toBe(ErrorCode.AuthResidency);
    expect(codeOf(() => steering.checkClaims('alice', { jurisdiction: 'EU', country: 'DE' }))).toBe('ok');
  });

  it('refuses a claim a rule covers when the user id does not match that rule\'s users', () => {
    const err = errorOf(() => r.checkClaims('alice', { jurisdiction: 'EU' }));
    expect(err.code).toBe(ErrorCode.AuthResidency);
    expect(err.message).toContain('jurisdiction EU, which residency rule "gdpr" covers');
    expect(codeOf(() => r.checkClaims('eu-alice', { jurisdiction: 'SG' }))).toBe(ErrorCode.AuthResidency);
    expect(codeOf(() => r.checkClaims('alice', { jurisdiction: 'CA' }))).toBe(ErrorCode.AuthResidency);
    expect(codeOf(() => r.checkClaims('sg-bob', { jurisdiction: 'CA' }))).toBe(ErrorCode.AuthResidency);
  });

  it('refuses an id under a rule whose userJurisdictions do not include the claim', () => {
    // No rule covers US claims, but eu-alice's rule (gdpr) takes EU claims only.
    const err = errorOf(() => r.checkClaims('eu-alice', { jurisdiction: 'US' }));
    expect(err.code).toBe(ErrorCode.AuthResidency);
    expect(err.message).toContain('falls under residency rule "gdpr" (EU), but the credential claims jurisdiction US');
    expect(codeOf(() => r.checkClaims('sg-bob', { jurisdiction: 'US' }))).toBe(ErrorCode.AuthResidency);
    expect(codeOf(() => r.checkClaims('us-carol', { jurisdiction: 'US' }))).toBe(ErrorCode.AuthResidency);
    // health has no userJurisdictions: it does not constrain the claim, ccpa does.
    expect(codeOf(() => r.checkClaims('us-med-dan', { jurisdiction: 'CA' }))).toBe('ok');
    expect(codeOf(() => r.checkClaims('us-med-dan', { jurisdiction: 'US' }))).toBe(ErrorCode.AuthResidency);
  });

  it('a country claim is covered by the data rules listing that country (EU group expanded)', () => {
    const err = errorOf(() => r.checkClaims('alice', { country: 'DE' }));
    expect(err.code).toBe(ErrorCode.AuthResidency);
    expect(err.message).toContain('country DE, which residency rule "gdpr" covers');
    expect(codeOf(() => r.checkClaims('sg-bob', { country: 'FR' }))).toBe(ErrorCode.AuthResidency);
    expect(codeOf(() => r.checkClaims('alice', { country: 'SG' }))).toBe(ErrorCode.AuthResidency);
    expect(codeOf(() => r.checkClaims('eu-alice', { country: 'DE' }))).toBe('ok');
    expect(codeOf(() => r.checkClaims('sg-bob', { country: 'SG' }))).toBe('ok');
    // JP is only steered (a rule with no users): no data rule covers it. US: no rule lists it.
    expect(codeOf(() => r.checkClaims('alice', { country: 'JP' }))).toBe('ok');
    expect(codeOf(() => r.checkClaims('alice', { country: 'US' }))).toBe('ok');
  });

  it('a claim several rules cover needs the id to match one of them, not all', () => {
    const two = new Residency(topology(`  - name: eu-health
    users: ["eu-health-*"]
    userJurisdictions: [EU]
    jurisdictions: [EU]
    mode: strict
`));
    expect(codeOf(() => two.checkClaims('eu-alice', { jurisdiction: 'EU' }))).toBe('ok');
    expect(codeOf(() => two.checkClaims('eu-health-ann', { jurisdiction: 'EU' }))).toBe('ok');
    const err = errorOf(() => two.checkClaims('alice', { jurisdiction: 'EU' }));
    expect([err.code, err.message]).toEqual([ErrorCode.AuthResidency, expect.stringContaining('rules "gdpr", "eu-health" cover')]);
  });

  it('the refusal names the claim that failed; without a topology any jurisdiction may be claimed', () => {
    expect(errorOf(() => r.checkClaims('alice', { country: 'DE' })).message).toContain('claims country DE');
    expect(errorOf(() => r.checkClaims('eu-alice', { jurisdiction: 'EU', country: 'SG' })).message).toContain('claims country SG');
    expect(codeOf(() => new Residency({ regions: [] }).checkClaims('alice', { jurisdiction: 'ZZ' }))).toBe('ok');
  });

  it('claims that agree with the rules pass, and no claims at all always pass', () => {
    expect(codeOf(() => r.checkClaims('eu-alice', { jurisdiction: 'EU', country: 'FR' }))).toBe('ok');
    expect(codeOf(() => r.checkClaims('sg-bob', { jurisdiction: 'SG', country: 'SG' }))).toBe('ok');
    expect(codeOf(() => r.checkClaims('us-carol', { jurisdiction: 'CA' }))).toBe('ok');
    for (const u of ['alice', 'eu-alice', 'sg-bob', 'us-med-dan']) expect(codeOf(() => r.checkClaims(u, {}))).toBe('ok');
    // Each half of an agreeing claim is checked on its own: a good jurisdiction does not excuse a bad country.
    expect(codeOf(() => r.checkClaims('eu-alice', { jurisdiction: 'EU', country: 'SG' }))).toBe(ErrorCode.AuthResidency);
  });
});

describe('residency region sets', () => {
  it('are every rule\'s regions, closed under intersection', () => {
    const t = parseTopology(`${REGIONS}residency:
  - { name: atlantic, users: ["a-*"], jurisdictions: [EU, US] }
  - { name: pacific, users: ["p-*"], jurisdictions: [US, SG] }
  - { name: rooms, rooms: ["r-*"], jurisdictions: [SG, EU] }
  - { name: steer, countries: [JP], jurisdictions: [SG] }
`);
    const sets = new Residency(t).regionSets();
    const key = (s: readonly string[]): string => s.join(',');
    expect(sets.map(key).sort()).toEqual(
      [
        'eu-west,eu-central,us-east',
        'us-east,ap-southeast',
        'eu-west,eu-central,ap-southeast',
        // Intersections: a user a-x-… in a DM with p-y-… is confined to us-east, and so on.
        'us-east',
        'ap-southeast',
        'eu-west,eu-central',
      ].sort(),
    );
    // Closed: every non-empty intersection of two sets is a set.
    const keys = new Set(sets.map(key));
    for (const a of sets) for (const b of sets) {
      const both = a.filter((x) => b.includes(x));
      if (both.length > 0) expect(keys.has(key(both))).toBe(true);
    }
    // The scope of any conversation is one of them.
    const r = new Residency(t);
    expect(keys.has(key(r.scopeOf(dm('a-1', 'p-2')).regions ?? []))).toBe(true);
  });

  it('of the four-region topology: the EU pair, US alone, SG alone and EU with US', () => {
    const sets = new Residency(topology()).regionSets();
    expect(sets.map((s) => s.join(',')).sort()).toEqual(['ap-southeast', 'eu-west,eu-central', 'eu-west,eu-central,us-east', 'us-east']);
  });
});

// ---------------------------------------------------------------------------------------------
// Placement under residency: an oracle written from the rules above, independent of src/residency.

const USER_PREFIXES = ['eu-', 'sg-', 'us-', 'us-med-', '', 'x'] as const;
const ROOM_PREFIXES = ['eu-', 'vault-', 'us-', 'atl-', 'sg-', ''] as const;
const suffix = fc.string({ unit: fc.constantFrom('a', 'b', '1', '-', ':', '%'), minLength: 1, maxLength: 6 });
const userArb = fc.tuple(fc.constantFrom(...USER_PREFIXES), suffix).map(([p, s]) => `${p}${s}`);
const roomArb = fc.tuple(fc.constantFrom(...ROOM_PREFIXES), suffix).map(([p, s]) => `${p}${s}`);
const conversationArb = fc.oneof(
  fc.tuple(userArb, userArb).map(([a, b]) => dm(a, b)),
  roomArb.map((x) => room(x)),
);

/** Where the rules above allow a user's data: undefined for anywhere. */
function userRegions(u: string): string[] | undefined {
  if (u.startsWith('us-med-')) return EU;
  if (u.startsWith('us-')) return ['eu-west', 'eu-central', 'us-east'];
  if (u.startsWith('eu-')) return EU;
  if (u.startsWith('sg-')) return ['ap-southeast'];
  return undefined;
}

function roomRegions(x: string): string[] | undefined {
  if (x.startsWith('eu-') || x.startsWith('vault-')) return EU;
  if (x.startsWith('us-')) return ['us-east'];
  if (x.startsWith('atl-')) return ['eu-west', 'eu-central', 'us-east'];
  return undefined;
}

function expectedRegions(c: string, placement: readonly string[] = ALL): string[] {
  let allowed: string[] | undefined;
  if (c.startsWith('room:')) allowed = roomRegions(c.slice(5));
  else {
    const [a, b] = c.slice(3).split(':').map((s) => s.replaceAll('%3A', ':').replaceAll('%25', '%'));
    const ra = userRegions(a!);
    const rb = userRegions(b!);
    allowed = ra === undefined ? rb : rb === undefined ? ra : ra.filter((x) => rb.includes(x));
  }
  return placement.filter((x) => allowed === undefined || allowed.includes(x));
}

describe('placement under residency (seeded properties)', () => {
  const pinned = '\nplacement:\n  conversations:\n    - match: "room:atl-*"\n      regions: [eu-central, us-east, ap-southeast]\n';
  const p = new ConversationPlacement(topology(pinned));

  it('the oracle agrees with the scopes Residency computes', () => {
    const r = new Residency(topology());
    fc.assert(
      fc.property(conversationArb, (c) => {
        const want = expectedRegions(c);
        const got = r.scopeOf(c).regions;
        expect(got ?? ALL).toEqual(want);
      }),
      { seed: 20261212, numRuns: 400 },
    );
  });

  it('home and replicas are always inside the allowed regions; none left is RESIDENCY_CONFLICT', () => {
    fc.assert(
      fc.property(conversationArb, (c) => {
        const want = expectedRegions(c, c.startsWith('room:atl-') ? ['eu-central', 'us-east', 'ap-southeast'] : ALL);
        if (want.length === 0) {
          expect(codeOf(() => p.homeOf(c))).toBe(ErrorCode.ResidencyConflict);
          expect(codeOf(() => p.replicasOf(c))).toBe(ErrorCode.ResidencyConflict);
          return;
        }
        expect([...p.candidates(c)].sort()).toEqual([...want].sort());
        expect(want).toContain(p.homeOf(c));
        const replicas = p.replicasOf(c);
        expect(replicas).toHaveLength(want.length > 1 ? 1 : 0);
        for (const x of replicas) {
          expect(want).toContain(x);
          expect(x).not.toBe(p.homeOf(c));
        }
        expect([...p.chainOf(c)].sort()).toEqual([...want].sort());
      }),
      { seed: 20261213, numRuns: 500 },
    );
  });

  it('an EU-only conversation\'s replica is the other EU region, though us-east is nearer', () => {
    // The same topology without rules shows the distances would pick us-east.
    const blind = new ConversationPlacement(parseTopology(`${REGIONS}${WAN}`));
    let wouldLeave = 0;
    for (let i = 0; i < 40; i++) {
      const c = dm(`eu-a${i}`, `eu-b${i}`);
      expect(p.replicasOf(c)).toEqual(EU.filter((x) => x !== p.homeOf(c)));
      if (EU.includes(blind.homeOf(c))) {
        expect(blind.replicasOf(c)).toEqual(['us-east']);
        wouldLeave++;
      }
    }
    expect(wouldLeave).toBeGreaterThan(0);
  });

  it('takeoverRegionsOf(home) includes the replica region of every conversation homed there', () => {
    fc.assert(
      fc.property(conversationArb, (c) => {
        if (expectedRegions(c).length === 0) return;
        const home = p.homeOf(c);
        for (const x of p.replicasOf(c)) expect(p.takeoverRegionsOf(home)).toContain(x);
      }),
      { seed: 20261214, numRuns: 500 },
    );
    // The narrowing shows: us-east is every EU region's nearest, yet the other EU region takes over.
    expect([...p.takeoverRegionsOf('eu-west')].sort()).toEqual(['eu-central', 'us-east']);
    expect([...p.takeoverRegionsOf('eu-central')].sort()).toEqual(['eu-west', 'us-east']);
  });

  it('a placement rule with no region the residency rules allow is RESIDENCY_CONFLICT, not a silent pick', () => {
    // meridian validate refuses such a file (test/topology/residency-validate.test.ts); placement still refuses it at runtime.
    expect(() => topology('\nplacement:\n  conversations:\n    - match: "room:eu-*"\n      regions: [us-east, ap-southeast]\n')).toThrow(/could be placed nowhere/);
    const q = new ConversationPlacement({ ...topology(), placement: { conversations: [{ match: 'room:eu-*', regions: ['us-east', 'ap-southeast'] }] } });
    const err = errorOf(() => q.homeOf(room('eu-sales')));
    expect(err.code).toBe(ErrorCode.ResidencyConflict);
    expect(err.details).toEqual({ conversation: 'room:eu-sales', placement: ['us-east', 'ap-southeast'], residency: EU });
    // A placement rule that overlaps residency is narrowed to the overlap.
    const o = new ConversationPlacement(topology('\nplacement:\n  conversations:\n    - match: "room:eu-*"\n      regions: [us-east, eu-central]\n'));
    expect(o.candidates(room('eu-sales'))).toEqual(['eu-central']);
    expect(o.homeOf(room('eu-sales'))).toBe('eu-central');
    expect(o.replicasOf(room('eu-sales'))).toEqual([]);
  });
});
