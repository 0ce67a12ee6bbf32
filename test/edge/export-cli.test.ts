// `meridian export cloudflare-lb` for both example topologies, and the `meridian edge` command's
// argument handling (the server itself is tested in edge-server.test.ts).
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cloudflareLb, failoverOrder, steeringPolicy } from '../../src/edge/cloudflare.js';
import { COUNTRY_GROUPS } from '../../src/topology/mod.js';
import { five, three } from './fixtures.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('export cloudflare-lb', () => {
  it.each([
    ['built-in three regions', [], three],
    ['five regions', ['--config', 'examples/five-regions.yaml'], five],
  ] as const)('prints a monitor, one pool per region and the load balancer for %s', async (_name, args, topology) => {
    const r = await run(['export', 'cloudflare-lb', ...args]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as ReturnType<typeof cloudflareLb>;
    expect(json).toEqual(cloudflareLb(topology));

    expect(json.monitor).toMatchObject({ type: 'http', method: 'GET', path: '/ready', expected_codes: '200', interval: 10, timeout: 1, retries: 0, consecutive_down: 2, consecutive_up: 3 });
    expect(json.monitor.timeout).toBeLessThan(json.monitor.interval);

    expect(json.pools.map((p) => p.name)).toEqual(topology.regions.map((x) => x.name));
    for (const [i, p] of json.pools.entries()) {
      const region = topology.regions[i]!;
      expect(p).toMatchObject({ latitude: region.location.lat, longitude: region.location.lon, monitor: json.monitor.name, enabled: true, minimum_origins: 1 });
      expect(p.origins).toEqual([{ name: region.name, address: `${region.name}.origin.example.com`, enabled: true, weight: 1 }]);
    }

    const lb = json.load_balancer;
    const names = new Set(json.pools.map((p) => p.name));
    expect(lb.steering_policy).toBe('geo'); // both examples have country pools
    expect(lb.session_affinity).toBe('cookie');
    expect(lb.session_affinity_ttl).toBe(82_800);
    expect(names.has(lb.fallback_pool)).toBe(true);
    expect(lb.default_pools.every((p) => names.has(p))).toBe(true);
    for (const [country, pools] of Object.entries(lb.country_pools)) {
      expect(country).toMatch(/^[A-Z]{2}$/);
      expect(pools.length).toBeGreaterThan(0);
      expect(pools.every((p) => names.has(p))).toBe(true);
    }
    // GDPR is strict: every EEA country is pinned to eu-west and nothing else.
    for (const c of COUNTRY_GROUPS['EU']!) expect(lb.country_pools[c]).toEqual(['eu-west']);
    // GB is not under GDPR: eu-west, then its fallback chain.
    expect(lb.country_pools['GB']?.[0]).toBe('eu-west');
    expect(lb.country_pools['GB']).toContain('us-east');
  });

  it('orders pools as the edge widens its search, residency first', () => {
    expect(failoverOrder(three, 'US')).toEqual(['us-east', 'eu-west']);
    expect(failoverOrder(three, 'SG')).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(failoverOrder(three, undefined)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(failoverOrder(five, undefined)).toEqual(['us-east', 'us-west', 'eu-west', 'ap-southeast', 'ap-northeast']);
    // PDPA is a preference for SG: the SG region first, others after.
    expect(failoverOrder(five, 'SG')).toEqual(['ap-southeast', 'ap-northeast']);
  });

  it('maps the heaviest routing weight to a steering policy when there are no country pools', () => {
    const noPools = (weights: typeof three.routing.weights): typeof three => ({ ...three, routing: { ...three.routing, countries: [], weights } });
    expect(steeringPolicy(noPools({ proximity: 0.4, health: 0.3, latency: 0.2, cost: 0.1 }))).toBe('proximity');
    expect(steeringPolicy(noPools({ proximity: 0.2, health: 0.2, latency: 0.5, cost: 0.1 }))).toBe('dynamic_latency');
    expect(steeringPolicy(noPools({ proximity: 0.1, health: 0.6, latency: 0.2, cost: 0.1 }))).toBe('least_outstanding_requests');
    const cheap = cloudflareLb(noPools({ proximity: 0.1, health: 0.1, latency: 0.1, cost: 0.7 }));
    expect(cheap.load_balancer.steering_policy).toBe('off');
    expect(cheap.load_balancer.default_pools).toEqual(['us-east', 'eu-west', 'ap-southeast']); // by cost
  });

  it('takes origins and the hostname from the command line, and refuses other targets', async () => {
    const r = await run(['export', 'cloudflare-lb', '--hostname', 'rt.example.net', '--region', 'us-east=http://10.0.0.1:7701,eu-west=https://eu.example.net']);
    const json = JSON.parse(r.out) as ReturnType<typeof cloudflareLb>;
    expect(json.load_balancer.name).toBe('rt.example.net');
    expect(json.pools.find((p) => p.name === 'eu-west')?.origins[0]?.address).toBe('eu.example.net');
    expect(json.pools.find((p) => p.name === 'us-east')?.origins[0]?.address).toBe('10.0.0.1');
    const bad = await run(['export', 'aws']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('cloudflare-lb');
  });
});

describe('meridian edge (command line)', () => {
  it('documents its options and needs region URLs', async () => {
    expect((await run(['edge', '--help'])).out).toContain('--region LIST');
    const r = await run(['edge']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--region is required');
    expect((await run(['edge', '--port', 'x', '--region', 'us-east=http://127.0.0.1:1'])).code).toBe(2);
  });

  it('refuses a region that is not in the topology without starting', async () => {
    const r = await run(['edge', '--port', '0', '--region', 'mars=http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('not in the topology');
  });
});
