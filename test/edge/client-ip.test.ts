// Who is the client behind the proxies: X-Forwarded-For counts only as far as trusted hops vouch.
import { describe, it, expect } from 'vitest';
import { clientIp, trustedProxies } from '../../src/http/client-ip.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { mulberry32 } from './fixtures.js';

const trusted = trustedProxies(['10.0.0.0/8', '192.0.2.7', 'loopback', 'fd00::/8']);

describe('edge - client IP', () => {
  it.each([
    ['an untrusted peer is the client, its header ignored', '203.0.113.9', '1.2.3.4', '203.0.113.9'],
    ['a trusted peer with no header is the client', '10.1.2.3', undefined, '10.1.2.3'],
    ['a trusted peer vouches for the last hop', '10.1.2.3', '198.51.100.1, 8.8.8.8', '8.8.8.8'],
    ['a chain of trusted proxies is walked right to left', '127.0.0.1', '8.8.8.8, 10.0.0.5, 192.0.2.7', '8.8.8.8'],
    ['what a client wrote before the first untrusted hop is ignored', '10.0.0.1', 'spoofed-1.1.1.1, 1.1.1.1, 9.9.9.9', '9.9.9.9'],
    ['an IPv4-mapped peer matches IPv4 rules', '::ffff:10.0.0.1', '8.8.4.4', '8.8.4.4'],
    ['an IPv6 trusted peer', 'fd00::1', '2001:4860:4860::8888', '2001:4860:4860::8888'],
    ['ports on forwarded hops are dropped', '10.0.0.1', '8.8.8.8:5353', '8.8.8.8'],
    ['bracketed IPv6 with a port', '10.0.0.1', '[2001:4860:4860::8844]:443', '2001:4860:4860::8844'],
    ['"unknown" stops at the last vouched address', '10.0.0.1', '8.8.8.8, unknown', '10.0.0.1'],
    ['all hops trusted: the leftmost is the client', '10.0.0.1', '10.0.0.3, 10.0.0.2', '10.0.0.3'],
    ['empty elements are skipped', '10.0.0.1', ' , 8.8.8.8 ,', '8.8.8.8'],
    ['repeated headers are read in arrival order', '10.0.0.1', ['8.8.8.8', '10.0.0.9'], '8.8.8.8'],
    ['a v4-mapped peer is reported in IPv4 form', '::ffff:203.0.113.4', undefined, '203.0.113.4'],
  ] as const)('%s', (_name, peer, xff, expected) => {
    expect(clientIp(peer, xff, trusted)).toBe(expected);
  });

  it('a missing or malformed peer address gives undefined', () => {
    expect(clientIp(undefined, '8.8.8.8', trusted)).toBeUndefined();
    expect(clientIp('not-an-ip', '8.8.8.8', trusted)).toBeUndefined();
  });

  it('nothing is trusted by default: the peer is always the client', () => {
    expect(clientIp('127.0.0.1', '8.8.8.8', trustedProxies([]))).toBe('127.0.0.1');
  });

  it.each([['10.0.0.0/33'], ['::/129'], ['10.0.0.0/x'], ['example.com'], ['10.0.0.256'], ['']])('rejects trusted proxy %j with EDGE_INVALID_TRUSTED_PROXY', (rule) => {
    let caught: unknown;
    try {
      trustedProxies([rule]);
    } catch (err) {
      caught = err;
    }
    expect(isMeridianError(caught, ErrorCode.EdgeInvalidTrustedProxy)).toBe(true);
  });

  it('property: whatever a client puts in the header, an untrusted client address is never replaced by it', () => {
    const rng = mulberry32(42);
    const octet = (): number => Math.floor(rng() * 256);
    for (let i = 0; i < 2000; i++) {
      const client = `${11 + Math.floor(rng() * 100)}.${octet()}.${octet()}.${octet()}`; // never in 10/8 or loopback
      const forged = Array.from({ length: Math.floor(rng() * 4) }, () => `${octet()}.${octet()}.${octet()}.${octet()}`);
      const proxies = Array.from({ length: Math.floor(rng() * 3) }, () => `10.${octet()}.${octet()}.${octet()}`);
      // The client sends forged hops; each trusted proxy appends the address it saw.
      const header = [...forged, client, ...proxies.slice(0, -1)].join(', ');
      const peer = proxies.at(-1) ?? client;
      expect(clientIp(peer, proxies.length ? header : forged.join(', '), trusted)).toBe(client);
    }
  });
});
