import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseTopology, TopologyError, defaultTopology, DEFAULT_TOPOLOGY_YAML, linkLatencyMs, greatCircleKm, DEFAULT_WEIGHTS } from '../../src/topology/mod.js';
import { ErrorCode } from '../../src/errors/mod.js';

function problemsOf(text: string): TopologyError['problems'] {
  try {
    parseTopology(text, 'm.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    expect((err as TopologyError).code).toBe(ErrorCode.TopologyInvalid);
    return (err as TopologyError).problems;
  }
  throw new Error('expected the topology to be rejected');
}

const region = (name: string, extra = ''): string => `  - name: ${name}\n    location: { lat: 10, lon: 20 }\n    jurisdiction: US\n${extra}`;

describe('topology', () => {
  it('the built-in default is the examples/meridian.yaml file and has three regions', () => {
    const file = readFileSync(new URL('../../examples/meridian.yaml', import.meta.url), 'utf8');
    expect(parseTopology(file)).toEqual(defaultTopology());
    expect(DEFAULT_TOPOLOGY_YAML.trim()).toBe(file.split('\n').filter((l) => !l.startsWith('#')).join('\n').trim());
    expect(defaultTopology().regions.map((r) => r.name)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('the five-region example is valid and keeps its capacity and fallback chain', () => {
    const t = parseTopology(readFileSync(new URL('../../examples/five-regions.yaml', import.meta.url), 'utf8'));
    expect(t.regions).toHaveLength(5);
    expect(t.regions.find((r) => r.name === 'eu-west')).toMatchObject({ capacity: { rps: 5000 }, fallback: ['us-east'], jurisdiction: 'EU' });
  });

  it('applies defaults for routing weights, capacity and cost', () => {
    const t = parseTopology(`regions:\n${region('solo')}`);
    expect(t.routing.weights).toEqual(DEFAULT_WEIGHTS);
    expect(t.regions[0]).toMatchObject({ cost: 1, fallback: [], capacity: { connections: 10000 } });
  });

  it('reports every problem at once with line, column and path', () => {
    const ps = problemsOf(`version: 1
regions:
  - name: a
    location: { lat: 95, lon: 10 }
    jurisdiction: US
    fallback: [zz]
  - name: a
    location: { lat: 1, lon: 200 }
    jurisdiction: US
routing:
  weights: { proximity: 0.5, health: 0.3, latency: 0.2, cost: 0.1 }
  countries:
    - { countries: [US], regions: [nope] }
`);
    const lines = ps.map((p) => `${p.line}:${p.column} ${p.path}`);
    expect(lines).toEqual([
      '4:22 regions[0].location.lat',
      '6:16 regions[0].fallback[0]',
      '7:11 regions[1].name',
      '8:30 regions[1].location.lon',
      '11:12 routing.weights',
      '13:36 routing.countries[0].regions[0]',
    ]);
    expect(ps[1]!.message).toContain('unknown region "zz" in fallback');
    expect(ps[2]!.message).toContain('duplicate region name');
    expect(ps[4]!.message).toContain('sum to 1');
  });

  it('rejects unknown keys at the key, so typos are caught', () => {
    const ps = problemsOf(`regions:\n${region('a', '    capacty: { connections: 5 }\n')}`);
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatchObject({ line: 5, path: 'regions[0].capacty', message: 'unknown key "capacty"' });
  });

  it('reports YAML syntax errors with their position', () => {
    const ps = problemsOf('regions:\n  - name: a\n   bad: [\n');
    expect(ps.length).toBeGreaterThan(0);
    expect(ps[0]!.line).toBeGreaterThan(1);
  });

  it('rejects an empty region list, a self fallback and an unserviceable residency rule', () => {
    expect(problemsOf('regions: []\n')[0]!.message).toContain('at least one region');
    const ps = problemsOf(`regions:\n${region('a', '    fallback: [a]\n')}residency:\n  - { name: gdpr, countries: [EU], jurisdictions: [EU] }\n`);
    expect(ps.map((p) => p.message)).toEqual([expect.stringContaining('cannot fall back to itself'), expect.stringContaining('no region has jurisdiction EU')]);
  });

  it('rejects a country routed by two rules, including through the EU group', () => {
    const ps = problemsOf(`regions:\n${region('a')}routing:\n  countries:\n    - { countries: [DE], regions: [a] }\n    - { countries: [EU], regions: [a] }\n`);
    expect(ps).toHaveLength(1);
    expect(ps[0]!.message).toBe('country DE is already routed by rule 0');
  });

  it('derives link latency from great-circle distance unless a link overrides it', () => {
    const t = defaultTopology();
    const km = greatCircleKm(t.regions[0]!.location, t.regions[1]!.location);
    expect(km).toBeGreaterThan(5400);
    expect(km).toBeLessThan(5600);
    expect(linkLatencyMs(t, 'us-east', 'eu-west')).toBeCloseTo(km / 100, 6);
    expect(linkLatencyMs(t, 'eu-west', 'eu-west')).toBe(0);
    const o = parseTopology(`regions:\n${region('a')}${region('b')}wan:\n  links:\n    - { between: [a, b], oneWayMs: 50 }\n`);
    expect(linkLatencyMs(o, 'b', 'a')).toBe(50);
  });
});
