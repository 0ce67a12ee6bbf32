/**
 * The topology's `residency:` rules as `meridian validate` sees them: shapes and cross-checks
 * reported at the rule (`residency[i]…`), rules that could leave a user or room nowhere to be
 * stored, and the warning (a rule placing data in one region: no failover), which goes to
 * standard error without failing the check.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ErrorCode } from '../../src/errors/mod.js';
import { globMatch } from '../../src/protocol/glob.js';
import { parseTopology, topologyWarnings, TopologyError } from '../../src/topology/mod.js';
import { FOUR_REGIONS_YAML } from '../residency/fixtures.js';

const HEAD = FOUR_REGIONS_YAML;
// The residency section starts on line 14.

function problemsOf(text: string): string[] {
  try {
    parseTopology(text, 'm.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    expect((err as TopologyError).code).toBe(ErrorCode.TopologyInvalid);
    return (err as TopologyError).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
  }
  throw new Error('expected the topology to be rejected');
}

const rules = (...lines: string[]): string => `${HEAD}residency:\n${lines.map((l) => `  - ${l}\n`).join('')}`;

describe('residency rules in the topology', () => {
  it('accepts data rules and fills the defaults', () => {
    const t = parseTopology(
      rules(
        '{ name: gdpr, countries: [EU], users: ["eu-*"], userJurisdictions: [EU], jurisdictions: [EU] }',
        '{ name: pdpa, users: ["sg-*"], jurisdictions: [SG], mode: strict }',
        '{ name: rooms, rooms: ["eu-*"], jurisdictions: [EU, US], strict: false }',
        '{ name: steer, countries: [JP], jurisdictions: [SG] }',
      ),
    );
    expect(t.residency).toEqual([
      { name: 'gdpr', countries: ['EU'], users: ['eu-*'], userJurisdictions: ['EU'], rooms: [], jurisdictions: ['EU'], strict: true, mode: 'store' },
      { name: 'pdpa', countries: [], users: ['sg-*'], userJurisdictions: [], rooms: [], jurisdictions: ['SG'], strict: true, mode: 'strict' },
      { name: 'rooms', countries: [], users: [], userJurisdictions: [], rooms: ['eu-*'], jurisdictions: ['EU', 'US'], strict: false, mode: 'store' },
      { name: 'steer', countries: ['JP'], users: [], userJurisdictions: [], rooms: [], jurisdictions: ['SG'], strict: true, mode: 'store' },
    ]);
  });

  it('rejects a duplicate rule name at the second rule', () => {
    expect(problemsOf(rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: gdpr, rooms: ["eu-*"], jurisdictions: [EU] }'))).toEqual([
      '16:13 residency[1].name: duplicate residency rule name "gdpr" (rule 0 has it)',
    ]);
  });

  it('rejects mode: strict with strict: false (never relayed, yet steered loosely)', () => {
    expect(problemsOf(rules('{ name: vault, rooms: ["v-*"], jurisdictions: [EU], mode: strict, strict: false }'))).toEqual([
      '15:79 residency[0].strict: rule "vault" is mode: strict (never relayed elsewhere), so its clients must be steered strictly too: remove strict: false',
    ]);
    expect(() => parseTopology(rules('{ name: vault, rooms: ["v-*"], jurisdictions: [EU], mode: strict, strict: true }'))).not.toThrow();
    expect(() => parseTopology(rules('{ name: pref, rooms: ["v-*"], jurisdictions: [EU], mode: store, strict: false }'))).not.toThrow();
  });

  it('rejects userJurisdictions without users patterns (data is placed by user id)', () => {
    const ps = problemsOf(rules('{ name: gdpr, userJurisdictions: [EU], jurisdictions: [EU] }'));
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatch(/^15:\d+ residency\[0\]\.userJurisdictions: rule "gdpr" covers users by their jurisdiction claim but names no users patterns/);
  });

  it('rejects a rule that covers nobody, unknown or lower-case jurisdictions, bad country codes, unknown keys', () => {
    expect(problemsOf(rules('{ name: empty, jurisdictions: [EU] }'))).toEqual(['15:5 residency[0]: a residency rule covers someone: give countries, users, userJurisdictions or rooms']);
    expect(problemsOf(rules('{ name: mars, users: ["m-*"], jurisdictions: [MARS] }'))).toEqual(['15:51 residency[0].jurisdictions[0]: no region has jurisdiction MARS: rule "mars" could never be served']);
    const lower = problemsOf(rules('{ name: lower, users: ["m-*"], userJurisdictions: [eu], jurisdictions: [eu] }'));
    expect(lower).toEqual([
      expect.stringMatching(/^15:\d+ residency\[0\]\.userJurisdictions\[0\]: jurisdictions are upper-case codes such as EU, US, SG$/),
      expect.stringMatching(/^15:\d+ residency\[0\]\.jurisdictions\[0\]: jurisdictions are upper-case codes such as EU, US, SG$/),
      expect.stringMatching(/^15:\d+ residency\[0\]\.jurisdictions\[0\]: no region has jurisdiction eu/),
    ]);
    expect(problemsOf(rules('{ name: c, countries: [de], jurisdictions: [EU] }'))[0]).toMatch(/residency\[0\]\.countries\[0\]: country codes are ISO 3166-1 alpha-2/);
    expect(problemsOf(rules('{ name: k, users: ["a-*"], jurisdictions: [EU], mode: relaxed }'))[0]).toMatch(/^15:\d+ residency\[0\]\.mode: /);
    // A typo is reported at the key, and the rule then covers nobody.
    expect(problemsOf(rules('{ name: k, user: ["a-*"], jurisdictions: [EU] }'))).toEqual([
      '15:5 residency[0]: a residency rule covers someone: give countries, users, userJurisdictions or rooms',
      '15:22 residency[0].user: unknown key "user"',
    ]);
    expect(problemsOf(rules('{ name: k, users: [""], jurisdictions: [EU] }'))[0]).toMatch(/residency\[0\]\.users\[0\]/);
  });

  it('rejects rules that can cover the same user or room and share no region, at the later rule', () => {
    expect(problemsOf(rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: pdpa, users: ["*-sg"], jurisdictions: [SG] }'))).toEqual([
      '16:26 residency[1].users: rules "gdpr" and "pdpa" both cover users like "eu-sg" but allow no region in common: such users could be stored nowhere',
    ]);
    const ps = problemsOf(rules('{ name: a, rooms: ["team-*"], jurisdictions: [EU] }', '{ name: b, rooms: ["us-*"], jurisdictions: [US] }', '{ name: c, rooms: ["*"], jurisdictions: [SG] }'));
    expect(ps).toEqual([
      expect.stringMatching(/^17:\d+ residency\[2\]\.rooms: rules "a" and "c" both cover rooms like "team-\w*"/),
      expect.stringMatching(/^17:\d+ residency\[2\]\.rooms: rules "b" and "c" both cover rooms like "us-\w*"/),
    ]);
  });

  it('accepts overlapping rules that share a region (the intersection), and disjoint rules that cannot meet', () => {
    // eu-vip-… falls under both: stored in eu-west and eu-central.
    expect(() => parseTopology(rules('{ name: west, users: ["*-vip-*"], jurisdictions: [EU, US] }', '{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }'))).not.toThrow();
    expect(() => parseTopology(rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: pdpa, users: ["sg-*"], jurisdictions: [SG] }'))).not.toThrow();
    // users and rooms are different ids: an eu-* user and an sg-* room never meet.
    expect(() => parseTopology(rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: pdpa, rooms: ["eu-*"], jurisdictions: [SG] }'))).not.toThrow();
  });

  it('finds overlaps only a longer id shows (eu-x.sg@acme.com matches both)', () => {
    const ps = problemsOf(rules('{ name: gdpr, users: ["eu-*@acme.com"], jurisdictions: [EU] }', '{ name: pdpa, users: ["*.sg@acme.com"], jurisdictions: [SG] }'));
    expect(ps).toHaveLength(1);
    const witness = JSON.parse(/like ("[^"]*")/.exec(ps[0]!)![1]!) as string;
    expect(globMatch('eu-*@acme.com', witness) && globMatch('*.sg@acme.com', witness)).toBe(true);
  });

  it('rejects two disjoint rules exactly when some id matches a pattern of each (seeded, against brute force)', () => {
    // Patterns of up to 4 characters over {a, b, *}: a common id, when there is one, needs no more
    // characters than the two patterns have letters, so ids up to 8 letters over {a, b} decide it.
    const ids: string[] = [];
    for (let n = 1; n <= 8; n++) for (let k = 0; k < 2 ** n; k++) ids.push(k.toString(2).padStart(n, '0').replaceAll('0', 'a').replaceAll('1', 'b'));
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '*'), minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(pattern, pattern, (p, q) => {
        const overlap = ids.some((id) => globMatch(p, id) && globMatch(q, id));
        const text = rules(`{ name: e, users: ["${p}"], jurisdictions: [EU] }`, `{ name: s, users: ["${q}"], jurisdictions: [SG] }`);
        let rejected = false;
        try {
          parseTopology(text);
        } catch (err) {
          expect(err).toBeInstanceOf(TopologyError);
          rejected = true;
        }
        expect(rejected).toBe(overlap);
      }),
      { seed: 20261215, numRuns: 600 },
    );
  });
});

describe('residency warnings', () => {
  const text = rules(
    '{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }',
    '{ name: pdpa, users: ["sg-*"], jurisdictions: [SG], mode: strict }',
    '{ name: steer, countries: [JP], jurisdictions: [SG] }',
    '{ name: us-rooms, rooms: ["us-*"], jurisdictions: [US] }',
  );

  it('warn when a rule places data in a single region while replicas are kept (no failover)', () => {
    expect(topologyWarnings(parseTopology(text))).toEqual([
      { path: ['residency', 1, 'jurisdictions'], message: 'rule "pdpa" allows only ap-southeast: its conversations have no replica region, so no failover (they are unavailable while ap-southeast is down)' },
      { path: ['residency', 3, 'jurisdictions'], message: 'rule "us-rooms" allows only us-east: its conversations have no replica region, so no failover (they are unavailable while us-east is down)' },
    ]);
  });

  it('do not warn about two allowed regions, steering-only rules, no replicas, or no rules', () => {
    // gdpr allows eu-west and eu-central; steer (one region, SG) places no data, so nothing fails over.
    expect(topologyWarnings(parseTopology(rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: steer, countries: [JP], jurisdictions: [SG] }')))).toEqual([]);
    expect(topologyWarnings(parseTopology(`${text}replication:\n  replicas: 0\n`))).toEqual([]);
    expect(topologyWarnings(parseTopology(HEAD))).toEqual([]);
  });
});

describe('meridian validate with residency rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-residency-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
    return { code, out, err };
  }

  it('prints warnings to standard error as FILE: warning: PATH: MESSAGE and exits 0', async () => {
    const file = join(dir, 'warn.yaml');
    writeFileSync(file, rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: pdpa, users: ["sg-*"], jurisdictions: [SG] }', '{ name: us-rooms, rooms: ["us-*"], jurisdictions: [US] }'));
    const r = await run(['validate', file]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${file}: ok (4 regions: eu-west, eu-central, us-east, ap-southeast)\n`);
    expect(r.err).toBe(
      `${file}: warning: residency[1].jurisdictions: rule "pdpa" allows only ap-southeast: its conversations have no replica region, so no failover (they are unavailable while ap-southeast is down)\n` +
        `${file}: warning: residency[2].jurisdictions: rule "us-rooms" allows only us-east: its conversations have no replica region, so no failover (they are unavailable while us-east is down)\n`,
    );
  });

  it('says nothing on standard error for a file without warnings, and exits 1 for a bad rule', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }'));
    expect(await run(['validate', good])).toEqual({ code: 0, out: `${good}: ok (4 regions: eu-west, eu-central, us-east, ap-southeast)\n`, err: '' });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, rules('{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }', '{ name: gdpr, users: ["eu-*"], jurisdictions: [EU] }'));
    const r = await run(['validate', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}:16:13 residency[1].name: duplicate residency rule name "gdpr"`);
    expect(r.err).not.toContain('warning');
  });
});

describe('placement against residency', () => {
  it('a placement rule pinning conversations a residency rule confines elsewhere is refused, with an example id', () => {
    const yaml = `regions:
  - { name: us-east, location: { lat: 39, lon: -77 }, jurisdiction: US }
  - { name: eu-west, location: { lat: 53, lon: -6 }, jurisdiction: EU }
placement:
  conversations:
    - { match: "room:*", regions: [us-east] }
    - { match: "dm:*", regions: [us-east, eu-west] }
residency:
  - { name: gdpr, users: ["eu-*"], rooms: ["eu-*"], jurisdictions: [EU] }
replication: { replicas: 0 }
`;
    let problems: string[] = [];
    try {
      parseTopology(yaml, 'p.yaml');
    } catch (err) {
      problems = (err as TopologyError).problems.map((p) => `${p.path}: ${p.message}`);
    }
    expect(problems).toEqual(['placement.conversations[0].regions: placement rule "room:*" pins conversations like "room:eu-" to us-east, but residency rule "gdpr" allows only eu-west: they could be placed nowhere']);
  });
});
