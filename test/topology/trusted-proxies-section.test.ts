/**
 * The topology's `trustedProxies:`: addresses, CIDRs and the named groups, validated with their
 * location; a warning for entries that trust every address; and the node's choice between its
 * option (`--trusted-proxies`), the topology and the default (loopback).
 */
import { describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/types.js';
import type { Messaging } from '../../src/messaging/types.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import type { Presence } from '../../src/presence/types.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { parseTopology, topologyWarnings } from '../../src/topology/mod.js';
import { problems } from './problems.js';

const REGION = 'regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\n';


describe('topology: trustedProxies', () => {
  it('accepts addresses, CIDRs and named groups, and leaves the list out when absent', () => {
    expect(parseTopology(`${REGION}trustedProxies: [10.20.0.0/16, 192.0.2.7, "fd00::/8", loopback, uniquelocal]\n`).trustedProxies).toEqual(['10.20.0.0/16', '192.0.2.7', 'fd00::/8', 'loopback', 'uniquelocal']);
    expect(parseTopology(`${REGION}trustedProxies: []\n`).trustedProxies).toEqual([]);
    expect(parseTopology(REGION).trustedProxies).toBeUndefined();
  });

  it('refuses what is not an address, a CIDR or a group, naming the entry', () => {
    expect(problems(`${REGION}trustedProxies: [10.0.0.0/8, edge.example.com, 10.0.0.0/33, "*"]\n`)).toEqual([
      { path: 'trustedProxies[1]', message: '"edge.example.com" is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal' },
      { path: 'trustedProxies[2]', message: '"10.0.0.0/33" is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal' },
      { path: 'trustedProxies[3]', message: '"*" is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal' },
    ]);
  });

  it('warns about an entry that trusts every address', () => {
    const t = parseTopology(`${REGION}trustedProxies: [loopback, 0.0.0.0/0, "::/0"]\n`);
    expect(topologyWarnings(t).filter((w) => w.path[0] === 'trustedProxies').map((w) => w.path)).toEqual([['trustedProxies', 1], ['trustedProxies', 2]]);
    expect(topologyWarnings(parseTopology(`${REGION}trustedProxies: [10.0.0.0/8]\n`))).toEqual([]);
  });

  it('a node takes its option over the topology, and loopback without either', () => {
    const base = { region: 'solo', bus: { region: 'solo' } as Bus, messaging: {} as Messaging, presence: {} as Presence };
    const listed = parseTopology(`${REGION}trustedProxies: [10.20.0.0/16]\n`);
    expect(resolveNodeOptions({ ...base, topology: parseTopology(REGION) }, 'x').trustedProxies).toEqual(['loopback']);
    expect(resolveNodeOptions({ ...base, topology: listed }, 'x').trustedProxies).toEqual(['10.20.0.0/16']);
    expect(resolveNodeOptions({ ...base, topology: listed, trustedProxies: [] }, 'x').trustedProxies).toEqual([]);
    let caught: unknown;
    try {
      resolveNodeOptions({ ...base, topology: listed, trustedProxies: ['proxy.local'] }, 'x');
    } catch (err) {
      caught = err;
    }
    expect(isMeridianError(caught) && caught.code === ErrorCode.NodeInvalidConfig).toBe(true);
  });
});
