/** The overlay addressing scheme of `meridian plan` and the located refusals of bad addressing. */
import { describe, expect, it } from 'vitest';
import { checkInventory, inventory } from '../../src/deploy/inventory.js';
import { parseTopology } from '../../src/topology/mod.js';

const REGIONS = `regions:
  - name: us-east
    location: { lat: 39, lon: -77 }
    jurisdiction: US
  - name: eu-west
    location: { lat: 53, lon: -6 }
    jurisdiction: EU
  - name: ap-southeast
    location: { lat: 1, lon: 103 }
    jurisdiction: SG
`;

const topo = (deploy = ''): ReturnType<typeof parseTopology> => parseTopology(`${REGIONS}${deploy}`, 'm.yaml');
/** A message containing `text` (typed, unlike expect.stringContaining). */
const has = (text: string): string => expect.stringContaining(text) as string;
const problems = (deploy: string): Array<{ path: string; message: string }> => checkInventory(topo(deploy)).map((p) => ({ path: p.path.join('.'), message: p.message }));

describe('inventory: the overlay addressing scheme', () => {
  it('gives region i the (i+1)-th /24, the lighthouse .1, NATS .10+n and the node .100', () => {
    const inv = inventory(topo('deploy:\n  nats: { serversPerRegion: { us-east: 3 } }\n'));
    expect(inv.regions.map((r) => r.cidr)).toEqual(['10.77.1.0/24', '10.77.2.0/24', '10.77.3.0/24']);
    expect(inv.regions[0]!.hosts.map((h) => [h.name, h.overlayIp, h.address])).toEqual([
      ['us-east-lighthouse-0', '10.77.1.1', '10.77.1.1'],
      ['us-east-nats-0', '10.77.1.10', '10.77.1.10'],
      ['us-east-nats-1', '10.77.1.11', '10.77.1.11'],
      ['us-east-nats-2', '10.77.1.12', '10.77.1.12'],
      ['us-east-node-0', '10.77.1.100', '10.77.1.100'],
    ]);
    expect(inv.regions[2]!.hosts.map((h) => h.overlayIp)).toEqual(['10.77.3.1', '10.77.3.10', '10.77.3.100']);
    expect(checkInventory(topo('deploy:\n  nats: { serversPerRegion: { us-east: 3 } }\n'))).toEqual([]);
  });

  it('packs hosts from the first address in a region CIDR smaller than a /24, and honours pins', () => {
    const t = topo('deploy:\n  vpn:\n    regions: { eu-west: 10.77.200.0/29 }\n    pins: { us-east-nats-0: 10.77.1.50 }\n');
    const inv = inventory(t);
    expect(inv.regions[1]!.hosts.map((h) => h.overlayIp)).toEqual(['10.77.200.1', '10.77.200.2', '10.77.200.3']);
    expect(inv.hosts.find((h) => h.name === 'us-east-nats-0')!.overlayIp).toBe('10.77.1.50');
    expect(checkInventory(t)).toEqual([]);
  });

  it('uses deploy.hosts (not overlay IPs) as addresses without a VPN, and 127.0.0.1 locally', () => {
    const t = topo('deploy:\n  hosts: { us-east: us.example.com }\n  vpn: { kind: none }\n');
    const inv = inventory(t);
    expect(inv.hosts.find((h) => h.name === 'us-east-nats-0')!.address).toBe('us.example.com');
    expect(inv.hosts.find((h) => h.name === 'eu-west-nats-0')!.address).toBe('eu-west-nats-0.eu-west.internal');
    expect(inventory(t, { local: true }).hosts.every((h) => h.address === '127.0.0.1')).toBe(true);
    // No overlay: nothing about it to refuse.
    expect(checkInventory(topo('deploy:\n  vpn: { kind: none, cidr: nonsense }\n'))).toEqual([]);
  });

  it('plans the ops and edge hosts in the first /24 (.10+n, .20+n), in no region, only with a VPN', () => {
    const inv = inventory(topo('deploy:\n  vpn: { opsHosts: 2, edgeHosts: 3, pins: { edge-2: 10.77.0.99 } }\n'));
    expect(inv.hosts.filter((h) => h.region === '').map((h) => [h.name, h.role, h.overlayIp])).toEqual([
      ['ops-0', 'ops', '10.77.0.10'],
      ['ops-1', 'ops', '10.77.0.11'],
      ['edge-0', 'edge', '10.77.0.20'],
      ['edge-1', 'edge', '10.77.0.21'],
      ['edge-2', 'edge', '10.77.0.99'],
    ]);
    expect(inv.regions.flatMap((r) => r.hosts).some((h) => h.region === '')).toBe(false);
    expect(inventory(topo()).hosts.filter((h) => h.region === '').map((h) => h.name)).toEqual(['ops-0', 'edge-0']);
    expect(inventory(topo('deploy:\n  vpn: { kind: none }\n')).hosts.filter((h) => h.region === '')).toEqual([]);
    expect(problems('deploy:\n  vpn: { opsHosts: 2, edgeHosts: 3, pins: { edge-2: 10.77.0.99 } }\n')).toEqual([]);
  });

  it('refuses ops and edge addresses outside the overlay or taken twice', () => {
    expect(problems('deploy:\n  vpn: { pins: { ops-0: 10.78.0.1 } }\n')).toEqual([{ path: 'deploy.vpn.pins.ops-0', message: '10.78.0.1 is outside the overlay 10.77.0.0/16 (deploy.vpn.cidr)' }]);
    expect(problems('deploy:\n  vpn: { pins: { edge-0: 10.77.0.10 } }\n')).toEqual([{ path: 'deploy.vpn.pins.edge-0', message: "10.77.0.10 is already ops-0's address (derived by the scheme)" }]);
    // An overlay of 16 addresses has no .20: the edge host needs a pin (or a wider overlay).
    expect(problems('deploy:\n  vpn: { cidr: 10.77.0.0/28, regions: { us-east: 10.77.0.0/30, eu-west: 10.77.0.4/30, ap-southeast: 10.77.0.8/30 }, edgeHosts: 1, opsHosts: 0 }\n')).toContainEqual({
      path: 'deploy.vpn.cidr',
      message: 'edge-0 would get 10.77.0.20, outside the overlay 10.77.0.0/28: use a /24 or wider, pin it (deploy.vpn.pins.edge-0) or plan fewer (deploy.vpn.edgeHosts)',
    });
    // A region pinned over the first /24 would take their addresses.
    expect(problems('deploy:\n  vpn:\n    regions: { us-east: 10.77.0.0/24 }\n    pins: { us-east-node-0: 10.77.0.200 }\n    edgeHosts: 0\n')).toEqual([
      { path: 'deploy.vpn.regions.us-east', message: "ops-0's 10.77.0.10 (the scheme puts it in the overlay's first /24) is inside region us-east's CIDR 10.77.0.0/24: keep that /24 free of regions, or pin ops-0 elsewhere" },
    ]);
  });

  it('is the same for the same topology (every generator agrees)', () => {
    expect(inventory(topo())).toEqual(inventory(topo()));
  });
});

describe('inventory: bad addressing is refused with its place in meridian.yaml', () => {
  it('refuses a malformed overlay CIDR and region CIDRs', () => {
    expect(problems('deploy:\n  vpn: { cidr: 10.77.0.0/33 }\n')).toEqual([{ path: 'deploy.vpn.cidr', message: has('not an IPv4 CIDR') }]);
    expect(problems('deploy:\n  vpn:\n    regions: { eu-west: 10.77.300.0/24, mars: 10.77.9.0/24 }\n')).toEqual([
      { path: 'deploy.vpn.regions.eu-west', message: has('not an IPv4 CIDR') },
      { path: 'deploy.vpn.regions.mars', message: has('no region "mars"') },
    ]);
  });

  it('refuses overlapping region CIDRs', () => {
    expect(problems('deploy:\n  vpn:\n    regions: { ap-southeast: 10.77.1.128/25 }\n')).toEqual([
      { path: 'deploy.vpn.regions.ap-southeast', message: "region ap-southeast's CIDR 10.77.1.128/25 overlaps region us-east's 10.77.1.0/24" },
    ]);
    // (and the ops and edge hosts of the first /24, which that CIDR covers too)
    expect(problems('deploy:\n  vpn:\n    regions: { us-east: 10.77.0.0/22 }\n').map((p) => p.path)).toEqual(['regions.1', 'regions.2', 'deploy.vpn.regions.us-east', 'deploy.vpn.regions.us-east']);
  });

  it('refuses regions outside the overlay, including more regions than it holds', () => {
    expect(problems('deploy:\n  vpn:\n    regions: { eu-west: 10.99.0.0/24 }\n')).toEqual([{ path: 'deploy.vpn.regions.eu-west', message: has('not inside the overlay 10.77.0.0/16') }]);
    // A /23 overlay holds one derived /24 after the reserved first one.
    expect(problems('deploy:\n  vpn: { cidr: 10.77.0.0/23 }\n')).toEqual([
      { path: 'regions.1', message: has('region eu-west would get 10.77.2.0/24, outside the overlay 10.77.0.0/23') },
      { path: 'regions.2', message: has('region ap-southeast would get 10.77.3.0/24') },
    ]);
  });

  it('refuses more hosts than a region CIDR holds', () => {
    expect(problems('deploy:\n  vpn:\n    regions: { eu-west: 10.77.200.0/30 }\n')).toEqual([
      { path: 'deploy.vpn.regions.eu-west', message: "region eu-west's CIDR 10.77.200.0/30 holds 2 hosts but the region plans 3 (1 lighthouse, 1 NATS, 1 node): use a larger CIDR" },
    ]);
    expect(problems('deploy:\n  nats: { serversPerRegion: { eu-west: 91 } }\n')).toEqual([
      { path: 'deploy.nats.serversPerRegion.eu-west', message: has('holds 90 per region') },
    ]);
    expect(problems('deploy:\n  nats: { serversPerRegion: 90 }\n')).toEqual([]);
  });

  it('refuses pins outside their region, malformed, unknown, duplicated or equal to a derived address', () => {
    expect(
      problems(`deploy:
  vpn:
    pins:
      us-east-nats-0: 10.77.2.10
      eu-west-nats-0: 10.77.2.256
      mars-nats-0: 10.77.9.9
      ap-southeast-node-0: 10.77.3.255
`),
    ).toEqual([
      { path: 'deploy.vpn.pins.us-east-nats-0', message: "10.77.2.10 is outside region us-east's CIDR 10.77.1.0/24" },
      { path: 'deploy.vpn.pins.eu-west-nats-0', message: '"10.77.2.256" is not an IPv4 address' },
      { path: 'deploy.vpn.pins.mars-nats-0', message: has('no planned host "mars-nats-0"') },
      { path: 'deploy.vpn.pins.ap-southeast-node-0', message: '10.77.3.255 is the network or broadcast address of 10.77.3.0/24' },
    ]);
    expect(problems('deploy:\n  vpn:\n    pins: { us-east-nats-0: 10.77.1.77, us-east-node-0: 10.77.1.77 }\n')).toEqual([
      { path: 'deploy.vpn.pins.us-east-node-0', message: "10.77.1.77 is already us-east-nats-0's address (pinned too)" },
    ]);
    expect(problems('deploy:\n  vpn:\n    pins: { us-east-node-0: 10.77.1.10 }\n')).toEqual([
      { path: 'deploy.vpn.pins.us-east-node-0', message: "10.77.1.10 is already us-east-nats-0's address (derived by the scheme)" },
    ]);
  });
});
