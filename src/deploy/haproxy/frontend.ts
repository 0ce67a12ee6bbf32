/**
 * The `frontend meridian` section of haproxy.cfg: the steering of config.ts's header, written so
 * that the common request costs haproxy little (bench/edge-proxy.ts, row `haproxy-generated`).
 *
 * Why it is shaped this way (callgrind on haproxy 2.6, instructions per keep-alive request): each
 * `http-request` rule evaluated costs ~300 before doing anything, a header fetch in it ~200 more,
 * a `set-var` 600–1,100 (a string variable is allocated and freed per request), `option
 * forwardfor` ~3,000 (it formats the address with sprintf). Written one step per rule, the
 * steering cost ~6,000 on every request and the whole config 41,400 (the bare pass-through
 * haproxy of the bench: 28,700); this shape costs ~2,000 for the steering of a request without
 * inputs of its own, and ~33,500 in all (the bare pass-through: ~29,200; most of the rest is
 * X-Forwarded-For, ~1,400, which the nodes need for their limits and audit). Two headers are left
 * out because nobody downstream needs haproxy to write them: `X-Meridian-Region` on the answer
 * (the region node names itself on every answer it writes) and `X-Forwarded-Proto` (the bind is
 * plain HTTP and no node reads it; with TLS terminated here, add it where your own backends need
 * it). Each cost ~1,400 per request:
 *
 * - What depends only on the connection's source, its GeoIP pool and its address as text for
 *   X-Forwarded-For, is computed once per connection (`tcp-request session` into `sess.*`): it
 *   cannot change on a connection. A GeoIP map changed at run time applies to new connections.
 * - Every per-request input (a country header, the affinity header or cookie) is looked for in
 *   one pass over the headers (`req.hdrs -m sub`). haproxy keeps header names in lower case
 *   whatever the client sent, so the lower-case names find them; a false find (the text inside a
 *   value) only takes the full path, which decides the same. Without any (most requests), the
 *   http-request rules stop there (`allow`) and the first `use_backend` lines pick from the
 *   connection's pool.
 * - With one, the rules set `txn.pool` (the trusted header's country's pool, else the
 *   connection's) and `txn.affinity` per request, as the documented precedence says, and the
 *   `use_backend` lines after the fast ones use them; the fast lines require `txn.pool` unset.
 */
import { AFFINITY_COOKIE, AFFINITY_HEADER, COUNTRY_HEADERS } from './names.js';
import type { SteeringPools } from './steering.js';

export interface FrontendInput {
  readonly bind: string;
  readonly maxconn: number;
  /** Where the map and list files live on the haproxy host. */
  readonly dir: string;
  readonly regions: readonly string[];
  readonly steering: SteeringPools;
  /** The backend serving one region. */
  readonly backend: (region: string) => string;
}

export function frontendSection(f: FrontendInput): string[] {
  const { dir, steering, backend } = f;
  const countries = `map(${dir}/countries.map,${steering.defaultPool})`;
  // Lower case: names as haproxy stores them; the cookie's name is compared as written (req.cook does).
  const inputs = [...COUNTRY_HEADERS, AFFINITY_HEADER].map((h) => h.toLowerCase()).concat(AFFINITY_COOKIE);
  const L: string[] = [
    'frontend meridian',
    `  bind ${f.bind}`,
    '  # TLS: bind :443 ssl crt /etc/haproxy/certs/ alpn h2,http/1.1 (and redirect :80) in production. Meridian',
    '  # nodes do not read X-Forwarded-Proto; add `http-request set-header X-Forwarded-Proto https` if other backends do.',
    `  maxconn ${f.maxconn}`,
    '  # Once per connection (its source never changes): the pool of its address\'s GeoIP country (the default pool',
    '  # without one), and the address as text for X-Forwarded-For.',
    `  tcp-request session set-var(sess.geo_pool) src,map_ip(${dir}/geoip-country.map),${countries}`,
    `  tcp-request session set-var(sess.geo_pool) str(${steering.defaultPool}) unless { var(sess.geo_pool) -m found }`,
    '  tcp-request session set-var-fmt(sess.client) %ci',
    '  # What `option forwardfor` adds, without formatting the address again on every request.',
    '  http-request add-header X-Forwarded-For %[var(sess.client)]',
    '  # Most requests carry no steering input of their own: the connection\'s pool decides (first use_backend lines).',
    `  http-request allow unless { req.hdrs -m sub ${inputs.join(' ')} }`,
    '  # 1. Country: a header only from a trusted upstream (CF-IPCountry over X-Country), else GeoIP of the client address.',
    `  acl trusted_upstream src -f ${dir}/trusted-proxies.lst`,
    '  http-request set-var(txn.pool) var(sess.geo_pool)',
    // Later rules overwrite earlier ones: the last header listed here wins.
    ...[...COUNTRY_HEADERS].map((h) => `  http-request set-var(txn.pool) req.hdr(${h}),upper,${countries} if { req.hdr(${h}) -m found } trusted_upstream`),
    '  # 2. Affinity: the header wins over the cookie; honoured below only where the pool allows it.',
    `  http-request set-var(txn.affinity) req.cook(${AFFINITY_COOKIE}) if { req.cook(${AFFINITY_COOKIE}) -m found }`,
    `  http-request set-var(txn.affinity) req.hdr(${AFFINITY_HEADER}) if { req.hdr(${AFFINITY_HEADER}) -m found }`,
    '  acl per_request var(txn.pool) -m found',
  ];
  for (const r of f.regions) {
    const allowing = [...steering.pools].filter(([, list]) => list.includes(r)).map(([id]) => id);
    L.push(
      `  acl up_${r} nbsrv(${backend(r)}) gt 0`,
      `  acl free_${r} be_conn_free(${backend(r)}) gt 0`,
      `  acl affinity_${r} var(txn.affinity) -m str ${r}`,
      allowing.length > 0 ? `  acl allows_${r} var(txn.pool) -m str ${allowing.join(' ')}` : `  acl allows_${r} always_false`,
    );
  }
  for (const id of steering.pools.keys()) L.push(`  acl conn_${id} var(sess.geo_pool) -m str ${id}`, `  acl ${id} var(txn.pool) -m str ${id}`);
  L.push('  # 3. No input of its own: the first of the connection\'s candidates that is up and below its cap.');
  for (const [id, list] of steering.pools) for (const r of list) L.push(`  use_backend ${backend(r)} if conn_${id} !per_request up_${r} free_${r}`);
  L.push('  # 4. With one: affinity where allowed, else the first candidate of the request\'s pool that is up and below its cap.');
  for (const r of f.regions) L.push(`  use_backend ${backend(r)} if affinity_${r} allows_${r} up_${r} free_${r}`);
  for (const [id, list] of steering.pools) for (const r of list) L.push(`  use_backend ${backend(r)} if ${id} up_${r} free_${r}`);
  L.push('  # 5. Nothing can serve this client (down, full, or ruled out by strict residency).', '  default_backend no-region', '');
  return L;
}
