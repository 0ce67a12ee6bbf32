/**
 * The schema of `meridian.yaml`: the one topology file that drives the runtime and the generated
 * deployment. Shapes are checked here (zod); cross-references (fallbacks, country rules, weights)
 * in validate.ts, so every problem can be reported at once with its location.
 */
import { z } from 'zod';
import { DeploySchema } from './deploy/schema.js';
import { originEntryProblem } from './origins.js';
import { trustedProxyProblem } from '../http/client-address.js';

export const REGION_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const regionName = z.string().regex(REGION_NAME, 'region names are lower-case letters, digits and dashes, starting with a letter (they become NATS cluster names)');
const countryCode = z.string().regex(/^[A-Z]{2}$/, 'country codes are ISO 3166-1 alpha-2, upper case (e.g. DE), or a group such as EU');
const natsUrl = z.string().regex(/^(nats|tls|ws|wss):\/\/[^\s/]+(:\d+)?\/?$/, 'NATS urls look like nats://host:4222');

export const RegionSchema = z.strictObject({
  name: regionName,
  location: z.strictObject({
    lat: z.number().min(-90, 'latitude must be between -90 and 90').max(90, 'latitude must be between -90 and 90'),
    lon: z.number().min(-180, 'longitude must be between -180 and 180').max(180, 'longitude must be between -180 and 180'),
    city: z.string().optional(),
  }),
  jurisdiction: z.string().regex(/^[A-Z]{2,8}$/, 'jurisdictions are upper-case codes such as EU, US, SG'),
  capacity: z
    .strictObject({
      connections: z.number().int().positive().default(10_000),
      rps: z.number().positive().default(5_000),
    })
    .default({ connections: 10_000, rps: 5_000 }),
  /** Relative cost of serving from this region; higher is more expensive. */
  cost: z.number().min(0).default(1),
  fallback: z.array(regionName).default([]),
  nats: z.array(natsUrl).default([]),
});

const weight = z.number().min(0, 'weights are between 0 and 1').max(1, 'weights are between 0 and 1');
export const DEFAULT_WEIGHTS = { proximity: 0.4, health: 0.3, latency: 0.2, cost: 0.1 } as const;

export const RoutingSchema = z.strictObject({
  weights: z
    .strictObject({ proximity: weight, health: weight, latency: weight, cost: weight })
    .default({ ...DEFAULT_WEIGHTS }),
  /** Country pools: clients in these countries are served by these regions (in order). */
  countries: z.array(z.strictObject({ countries: z.array(countryCode).min(1), regions: z.array(regionName).min(1) })).default([]),
  /** Pool for clients no country rule matches; empty means every region. */
  default: z.array(regionName).default([]),
});

const jurisdiction = z.string().regex(/^[A-Z]{2,8}$/, 'jurisdictions are upper-case codes such as EU, US, SG');
const idGlob = z.string().min(1).max(256);

/**
 * A residency rule (docs/residency.md). It covers clients by country (steering at the edge), and
 * data subjects by user id pattern (`users`), by the `jurisdiction` a token or dev auth frame
 * claims (`userJurisdictions`, checked at auth against `users`), and rooms by id pattern
 * (`rooms`). Covered users' conversations are stored only in regions of `jurisdictions`
 * (src/residency); `mode: strict` also keeps their frames off every other region's nodes.
 */
export const ResidencyRuleSchema = z
  .strictObject({
    name: z.string().min(1),
    /** Clients in these countries are steered to regions of `jurisdictions` (the edge). */
    countries: z.array(countryCode).default([]),
    /** Data subjects: user ids matching one of these `*` globs (e.g. `eu-*`). */
    users: z.array(idGlob).default([]),
    /** Users whose token (or dev auth frame) claims one of these jurisdictions: their id must match `users`. */
    userJurisdictions: z.array(jurisdiction).default([]),
    /** Rooms whose id matches one of these `*` globs keep their messages under this rule. */
    rooms: z.array(idGlob).default([]),
    /** …are stored (and with `strict`, served) only in regions of these jurisdictions. */
    jurisdictions: z.array(jurisdiction).min(1),
    /** Steering: with no allowed region healthy, refuse (503) rather than violate; false: a preference. */
    strict: z.boolean().default(true),
    /** Data: `store` keeps data at rest in allowed regions (transit elsewhere allowed); `strict` not even relayed. */
    mode: z.enum(['store', 'strict']).default('store'),
    /** How long the conversations under this rule keep their messages (the strictest limit of every rule applying wins). */
    retention: z
      .strictObject({
        maxAgeDays: z.number().positive('maxAgeDays must be more than 0').max(36_500).optional(),
        maxCount: z.number().int('maxCount must be a whole number').positive('maxCount must be at least 1').max(1_000_000_000).optional(),
      })
      .refine((r) => r.maxAgeDays !== undefined || r.maxCount !== undefined, { message: 'a retention limit needs maxAgeDays, maxCount or both' })
      .optional(),
  })
  .refine((r) => r.countries.length + r.users.length + r.userJurisdictions.length + r.rooms.length > 0, { message: 'a residency rule covers someone: give countries, users, userJurisdictions or rooms' });

export const WanSchema = z.strictObject({
  /** Simulated one-way latency per 100 km of great-circle distance (embedded bus). */
  msPer100Km: z.number().min(0).default(1),
  links: z.array(z.strictObject({ between: z.tuple([regionName, regionName]), oneWayMs: z.number().min(0) })).default([]),
});

const sloTargets = {
  availability: z.number().min(0).max(1).optional(),
  p95Ms: z.number().positive().optional(),
  p99Ms: z.number().positive().optional(),
  errorRate: z.number().min(0).max(1).optional(),
};
export const SloTargetsSchema = z.strictObject(sloTargets);

/**
 * SLO targets (docs/observability.md "SLOs"): the fields here hold for every region; a region
 * listed under `regions` has its own fields laid over them one by one (src/topology/slo.ts).
 * Region names are checked against `regions:` in validate.ts, which names the known ones.
 */
export const SloSchema = z.strictObject({
  ...sloTargets,
  regions: z.record(z.string(), SloTargetsSchema).optional(),
});

// Resilience policy of a service or function (src/services/policy/config.ts has the defaults
// and the reasons; cross-field checks such as maxDelayMs >= baseDelayMs happen there).
const pos = z.number().positive();
const nonNeg = z.number().min(0);
const share = z.number().min(0).max(1);
export const PolicySchema = z.strictObject({
  timeoutMs: pos.optional(),
  retries: z.strictObject({ max: z.number().int().min(0).optional(), baseDelayMs: nonNeg.optional(), maxDelayMs: nonNeg.optional(), on: z.array(z.number().int().min(100).max(599)).optional() }).optional(),
  retryBudget: z.strictObject({ ratio: share.optional(), minPerSecond: nonNeg.optional(), windowMs: pos.optional() }).optional(),
  breaker: z
    .discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('consecutive'), failures: z.number().int().min(1).optional(), halfOpenAfterMs: pos.optional() }),
      z.strictObject({ mode: z.literal('sampling'), threshold: z.number().gt(0).max(1).optional(), windowMs: pos.optional(), minimumRps: nonNeg.optional(), halfOpenAfterMs: pos.optional() }),
    ])
    .optional(),
  outlier: z.strictObject({ consecutiveFailures: z.number().int().min(1).optional(), baseEjectionMs: pos.optional(), maxEjectionMs: pos.optional(), maxEjectedShare: share.optional() }).optional(),
  bulkhead: z.strictObject({ maxConcurrent: z.number().int().min(1).optional(), queue: z.number().int().min(0).optional() }).optional(),
});

export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const serviceName = z.string().regex(SERVICE_NAME, 'service and function names are 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit');

export const ServiceDeclSchema = z.strictObject({ policy: PolicySchema.optional() });

/** Where worker URLs may point (src/services/egress/policy.ts has the rules and the defaults). */
export const EgressSchema = z.strictObject({
  /** CIDRs, addresses, host names or `*.suffix` patterns; private ranges only when listed here. */
  allow: z.array(z.string().min(1)).default([]),
  /** Workers on loopback (dev mode allows them whatever this says). */
  allowLoopback: z.boolean().default(false),
  /** Refuse public addresses that `allow` does not list. */
  only: z.boolean().default(false),
  /** Per region: entries that region's nodes may reach besides `allow` (its own overlay or VPC); names checked in validate.ts. */
  regions: z.record(z.string(), z.strictObject({ allow: z.array(z.string().min(1)).default([]) })).optional(),
});

/**
 * Browser origins allowed to use the deployment (src/topology/origins.ts): the default of the
 * nodes' WebSocket check and the edge's CORS and WebSocket check. `*` is any origin (without
 * credentials at the edge) and stands alone; an empty list lets no browser page in.
 */
export const OriginsSchema = z
  .array(z.string().superRefine((s, ctx) => {
    const problem = originEntryProblem(s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }))
  .refine((l) => !l.includes('*') || l.length === 1, { message: '"*" (any origin) stands alone: remove the other entries or the "*"' });

/**
 * Proxies in front of the region nodes (the edge, haproxy, a load balancer) whose
 * X-Forwarded-For a node believes for the client address its rate limits and audit entries use
 * (src/http/client-address.ts): addresses, CIDRs and the groups `loopback`, `linklocal`,
 * `uniquelocal`. Absent: loopback only; `--trusted-proxies` wins; empty: none.
 */
export const TrustedProxiesSchema = z.array(
  z.string().superRefine((s, ctx) => {
    const problem = trustedProxyProblem(s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }),
);

export const FunctionDeclSchema = z.strictObject({
  /** Desired replicas per region (GET /v1/functions reports live against it). */
  placement: z.record(z.string(), z.number().int().min(0, 'replicas must be >= 0')).default({}),
  routing: z.enum(['geographic', 'round-robin', 'affinity']).default('geographic'),
  /** CloudEvents attribute whose value is the affinity key (CloudEvents partitioning: partitionkey). */
  affinityKey: z.string().regex(/^[a-z0-9]{1,20}$/, 'CloudEvents attribute names are 1-20 lower-case letters or digits').default('partitionkey'),
  /** Asynchronous invocations (Prefer: respond-async): attempts before the DLQ, and backoff between them. */
  async: z.strictObject({ maxAttempts: z.number().int().min(1).default(3), backoffMs: nonNeg.default(200) }).default({ maxAttempts: 3, backoffMs: 200 }),
  policy: PolicySchema.optional(),
});

/**
 * Where conversations may be homed (src/placement). Rules are tried in order; the first whose
 * `match` (a `*` glob on the conversation id, e.g. `room:eu-*` or `dm:*`) matches gives the
 * candidate regions; without a match every region is a candidate. Among the candidates the home
 * is fixed by rendezvous hashing of the conversation id: no directory, no race between regions.
 */
export const PlacementSchema = z.strictObject({
  conversations: z.array(z.strictObject({ match: z.string().min(1).max(256), regions: z.array(regionName).min(1) })).default([]),
});

const durability = z.enum(['local', 'replicated']);

/**
 * Replicated conversation logs (src/messaging/replication.ts). Each conversation's log is copied
 * to `replicas` other regions (0 or 1 in this version: the candidate region nearest its home; a
 * conversation whose candidates are its home alone has none unless the file sets `replicas`,
 * which `meridian validate` then checks against every placement rule).
 * `durability` is the default per send: `local` acks after the home's durable append (the copy
 * follows, its lag is measured), `replicated` only once the replica holds it too. A send may ask
 * for either among `allow`; `conversations` rules (first glob match wins) set another default for
 * matching conversations. When a home is unreachable from a majority of regions for
 * `failoverAfterMs`, its replica takes over under a new epoch (src/failover).
 */
export const ReplicationSchema = z.strictObject({
  replicas: z.number().int().min(0).max(1, 'this version keeps at most 1 replica per conversation').default(1),
  durability: durability.default('local'),
  allow: z.array(durability).min(1).default(['local', 'replicated']),
  failoverAfterMs: z.number().int().min(500).max(600_000).default(3000),
  /**
   * At most this many acked `local` entries of a conversation may be missing at its replica
   * (beyond it, a send waits for the copy); after a failover the new owner starts its seqs this
   * far past its copy, so they never collide with seqs the old home handed out.
   */
  maxUnreplicated: z.number().int().min(1).max(1_000_000).default(100),
  conversations: z.array(z.strictObject({ match: z.string().min(1).max(256), durability })).default([]),
});

/**
 * How long conversation logs keep their messages (src/topology/retention.ts turns this into the
 * log's per-conversation policy, applied by the home's log and every replica's alike). Rules are
 * tried in order; the first whose `match` (a `*` glob on the conversation id, as in `placement`)
 * matches decides: `maxAgeDays` (messages older than this many days are removed; fractions allowed,
 * 0.5 = 12 hours) and/or `maxCount` (only the newest N seqs are kept). No rule matching: kept
 * forever.
 */
export const RetentionRuleSchema = z
  .strictObject({
    match: z.string().min(1).max(256),
    maxAgeDays: z.number().positive('maxAgeDays must be more than 0').max(36_500, 'maxAgeDays is at most 36500 (100 years); leave it out to keep messages forever').optional(),
    maxCount: z.number().int('maxCount must be a whole number').positive('maxCount must be at least 1').max(1_000_000_000).optional(),
  })
  .refine((r) => r.maxAgeDays !== undefined || r.maxCount !== undefined, { message: 'a retention rule needs maxAgeDays, maxCount or both' });

export const RetentionSchema = z.strictObject({
  conversations: z.array(RetentionRuleSchema).default([]),
});

export const TopologySchema = z.strictObject({
  version: z.literal(1).default(1),
  regions: z.array(RegionSchema).min(1, 'at least one region is required'),
  routing: RoutingSchema.default({ weights: { ...DEFAULT_WEIGHTS }, countries: [], default: [] }),
  residency: z.array(ResidencyRuleSchema).default([]),
  wan: WanSchema.default({ msPer100Km: 1, links: [] }),
  slo: SloSchema.default({}),
  services: z.record(serviceName, ServiceDeclSchema).optional(),
  functions: z.record(serviceName, FunctionDeclSchema).optional(),
  egress: EgressSchema.default({ allow: [], allowLoopback: false, only: false }),
  origins: OriginsSchema.optional(),
  trustedProxies: TrustedProxiesSchema.optional(),
  placement: PlacementSchema.default({ conversations: [] }),
  replication: ReplicationSchema.default({ replicas: 1, durability: 'local', allow: ['local', 'replicated'], failoverAfterMs: 3000, maxUnreplicated: 100, conversations: [] }),
  retention: RetentionSchema.default({ conversations: [] }),
  /** What `meridian plan` needs to write a deployment (src/topology/deploy/schema.ts). */
  deploy: DeploySchema.default(DeploySchema.parse({})),
});

export type Topology = z.output<typeof TopologySchema>;
export type Region = z.output<typeof RegionSchema>;
export type RoutingWeights = Topology['routing']['weights'];
export type ResidencyRule = z.output<typeof ResidencyRuleSchema>;
export type PolicyDecl = z.output<typeof PolicySchema>;
export type ServiceDecl = z.output<typeof ServiceDeclSchema>;
export type FunctionDecl = z.output<typeof FunctionDeclSchema>;
export type RetentionRule = z.output<typeof RetentionRuleSchema>;
export type SloTargetsDecl = z.output<typeof SloTargetsSchema>;
