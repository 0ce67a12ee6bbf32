// The client address a region node keys its limits and audit entries by: X-Forwarded-For counts
// only when the peer is a trusted proxy, and then only as far as trusted hops vouch for it (the
// rightmost untrusted address); a peer that is not trusted is the client whatever it writes.
import { createServer, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRUSTED_PROXIES, admitClientAddress, clientAddress, resolveClientAddress, trustList, trustedProxyProblem, trustsEveryone } from '../../src/http/client-address.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';

const edgeOnly = trustList(['192.0.2.10']);
const cluster = trustList(['10.0.0.0/8', 'fd00::/8', '192.0.2.10']);
const loopback = trustList(DEFAULT_TRUSTED_PROXIES);
const none = trustList([]);

describe('client address - resolution', () => {
  it.each([
    // [name, trusted, peer, X-Forwarded-For, client]
    ['a direct client with no header is its peer', edgeOnly, '203.0.113.9', undefined, '203.0.113.9'],
    ['a direct client forging the header is still its peer', edgeOnly, '203.0.113.9', '198.51.100.1', '203.0.113.9'],
    ['a direct client forging a chain of trusted hops is still its peer', edgeOnly, '203.0.113.9', '198.51.100.1, 192.0.2.10', '203.0.113.9'],
    ['behind the trusted edge: the hop it appended', edgeOnly, '192.0.2.10', '198.51.100.1', '198.51.100.1'],
    ['behind the edge, what the client wrote left of its own hop is ignored', edgeOnly, '192.0.2.10', '6.6.6.6, 198.51.100.1', '198.51.100.1'],
    ['two trusted proxies (haproxy, then the edge) are walked right to left', cluster, '10.0.0.5', '198.51.100.1, 192.0.2.10', '198.51.100.1'],
    ['the rightmost untrusted hop wins over anything to its left', cluster, '10.0.0.5', '6.6.6.6, 198.51.100.1, 10.0.0.7', '198.51.100.1'],
    ['every hop trusted: the leftmost', cluster, '10.0.0.5', '10.0.0.9, 10.0.0.8', '10.0.0.9'],
    ['a trusted proxy that appended no header: itself', cluster, '10.0.0.5', undefined, '10.0.0.5'],
    ['a trusted proxy passing "unknown": the last address vouched for', cluster, '10.0.0.5', '198.51.100.1, unknown', '10.0.0.5'],
    ['repeated headers are read in arrival order', cluster, '10.0.0.5', ['198.51.100.1', '10.0.0.6'], '198.51.100.1'],
    ['a hop with a port', edgeOnly, '192.0.2.10', '198.51.100.1:51234', '198.51.100.1'],
    ['an IPv6 hop behind an IPv6 proxy', cluster, 'fd00::5', '[2001:db8::7]:443', '2001:db8::7'],
    ['an IPv4-mapped peer matches an IPv4 rule', edgeOnly, '::ffff:192.0.2.10', '198.51.100.1', '198.51.100.1'],
    ['an IPv4-mapped peer is one client with its IPv4 form', edgeOnly, '::ffff:203.0.113.9', undefined, '203.0.113.9'],
    ['an IPv6 peer in lower case', none, '2001:DB8::1', undefined, '2001:db8::1'],
    ['default (loopback): meridian up\'s edge on this host is believed', loopback, '127.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['default (loopback): a client elsewhere is not', loopback, '198.51.100.2', '127.0.0.1', '198.51.100.2'],
    ['nothing trusted: always the peer', none, '127.0.0.1', '198.51.100.1', '127.0.0.1'],
  ] as const)('%s', (_name, trusted, peer, xff, expected) => {
    expect(resolveClientAddress(peer, xff, trusted)).toBe(expected);
  });

  it('a socket without an address (already closed) gives what it has, never throws', () => {
    expect(resolveClientAddress(undefined, '198.51.100.1', edgeOnly)).toBe('');
    expect(resolveClientAddress(undefined, undefined, edgeOnly)).toBe('');
  });
});

describe('client address - trusted proxy entries', () => {
  it.each([['10.0.0.0/8'], ['192.0.2.10'], ['fd00::/8'], ['::1'], ['loopback'], ['linklocal'], ['uniquelocal'], [' 10.1.0.0/16 ']])('accepts %j', (entry) => {
    expect(trustedProxyProblem(entry)).toBeUndefined();
  });

  it.each([['10.0.0.0/33'], ['::/129'], ['10.0.0.0/x'], ['proxy.example.com'], ['10.0.0.256'], [''], ['*'], ['localhost']])('refuses %j, saying what it takes', (entry) => {
    expect(trustedProxyProblem(entry)).toBe(`${JSON.stringify(entry)} is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`);
    let caught: unknown;
    try {
      trustList(['10.0.0.0/8', entry]);
    } catch (err) {
      caught = err;
    }
    expect(isMeridianError(caught) && caught.code === ErrorCode.InvalidArgument).toBe(true);
  });

  it('knows the entries that trust every address', () => {
    expect(['0.0.0.0/0', '::/0', ' 0.0.0.0/0'].map(trustsEveryone)).toEqual([true, true, true]);
    expect(['0.0.0.0/1', '10.0.0.0/8', 'loopback', 'x/0'].map(trustsEveryone)).toEqual([false, false, false, false]);
  });
});

describe('client address - per request', () => {
  it('is resolved once per request and read back by request, by upgraded socket, else the peer', async () => {
    const seen: Array<{ admitted: string; read: string; socketBefore: string }> = [];
    const server = createServer((req: IncomingMessage, res) => {
      // Before admission the socket reads as its peer (and stays so: a keep-alive socket carries many clients).
      const socketBefore = clientAddress(req.socket);
      const admitted = admitClientAddress(req, loopback);
      seen.push({ admitted, read: clientAddress(req), socketBefore });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const get = (xff?: string): Promise<void> =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, localAddress: '127.0.0.1', headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
      });
    try {
      await get('198.51.100.1');
      await get();
    } finally {
      server.close();
    }
    expect(seen).toEqual([
      { admitted: '198.51.100.1', read: '198.51.100.1', socketBefore: '127.0.0.1' },
      { admitted: '127.0.0.1', read: '127.0.0.1', socketBefore: '127.0.0.1' },
    ]);
  });
});
