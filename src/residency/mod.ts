/**
 * Residency: which regions may hold (and, in `strict` mode, even relay) a conversation's data,
 * derived from the topology's `residency:` rules and the conversation id alone, so every region
 * computes the same answer without asking anyone (the same reason homes are hashed from ids,
 * src/placement). docs/residency.md has the rules as users write them.
 *
 * - A user is a data subject of every rule whose `users` globs match the user id. Their
 *   jurisdiction, when a token or dev auth frame claims one (`jurisdiction`, `country`), MUST
 *   agree: a claim covered by a data rule whose `users` the id does not match, or an id covered by
 *   a rule whose jurisdictions the claim is not among, is refused at auth (`checkClaims`); a claim
 *   naming a jurisdiction nobody knows too. Placement then never depends on who connected first.
 * - A direct conversation falls under its two users' rules; a room under the rules whose `rooms`
 *   globs match its id (a room declares its rule by pattern).
 * - Precedence, the strictest wins: the allowed regions are the intersection of every applying
 *   rule's regions; the mode is `strict` when any applying rule is. An empty intersection (an
 *   EU-only user and an SG-only user) means the conversation can be stored nowhere:
 *   RESIDENCY_CONFLICT, never a silent pick.
 * - A message into a room is refused (RESIDENCY_FORBIDDEN) when the room may be stored where the
 *   sender's rules do not allow: the message is the sender's data.
 *
 * MUST: every caller that stores or relays a conversation asks `scopeOf` (placement narrows
 * homes and replicas to `regions`; messaging refuses strict conversations outside them and
 * publishes their frames only towards allowed regions). MUST NOT: derive a conversation's rule
 * from anything but its id and the topology.
 */
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { globMatch } from '../protocol/glob.js';
import { parseConversation } from '../protocol/mod.js';
import { expandCountries } from '../topology/countries.js';
import type { ResidencyRule } from '../topology/schema.js';
import { policyOf, strictest } from '../topology/retention.js';
import type { RetentionPolicy } from '../topology/retention.js';

export type ResidencyMode = 'store' | 'strict';

/** Where a conversation (or a user's data) may live. */
export interface ResidencyScope {
  /** Regions allowed to store it, in topology order; undefined: no rule applies (anywhere). */
  readonly regions: readonly string[] | undefined;
  /** `strict`: not even relayed through other regions. */
  readonly mode: ResidencyMode;
  /** Names of the rules that apply. */
  readonly rules: readonly string[];
}

export interface ResidencyTopology {
  readonly regions: readonly { readonly name: string; readonly jurisdiction: string }[];
  readonly residency?: readonly ResidencyRule[];
}

const FREE: ResidencyScope = Object.freeze({ regions: undefined, mode: 'store', rules: Object.freeze([]) });
const MAX_CACHED = 50_000;

export class Residency {
  readonly #regions: readonly { readonly name: string; readonly jurisdiction: string }[];
  /** Rules that place data (they name users or rooms); country-only rules steer clients only. */
  readonly #data: readonly ResidencyRule[];
  readonly #all: readonly ResidencyRule[];
  readonly #known: ReadonlySet<string>;
  readonly #cache = new Map<string, ResidencyScope>();

  constructor(topology: ResidencyTopology) {
    this.#regions = topology.regions;
    this.#all = topology.residency ?? [];
    this.#data = this.#all.filter((r) => r.users.length > 0 || r.rooms.length > 0);
    this.#known = new Set([...this.#regions.map((r) => r.jurisdiction), ...this.#all.flatMap((r) => [...r.jurisdictions, ...r.userJurisdictions])]);
  }

  /** True when some rule places data (otherwise every scope is free and nothing here costs). */
  get active(): boolean {
    return this.#data.length > 0;
  }

  /** True when a strict rule allows `region`: its nodes receive strict frames on region subjects. */
  servesStrict(region: string): boolean {
    return this.#data.some((r) => r.mode === 'strict' && this.#regionsOf(r).includes(region));
  }

  /** The rules a user is the data subject of, and where their data may live. */
  ofUser(user: string): ResidencyScope {
    if (!this.active) return FREE;
    return this.#cached(`u\0${user}`, () => this.#combine(this.#data.filter((r) => r.users.some((g) => globMatch(g, user)))));
  }

  /** Where a conversation may be stored, and whether strictly; throws for an id that is not one. */
  scopeOf(conversation: string): ResidencyScope {
    if (!this.active) return FREE;
    return this.#cached(`c\0${conversation}`, () => {
      const c = parseConversation(conversation, Number.MAX_SAFE_INTEGER);
      if (c === undefined) throw new MeridianError(ErrorCode.InvalidArgument, `not a conversation id: ${JSON.stringify(conversation.slice(0, 80))}`);
      const rules = c.kind === 'room' ? this.#data.filter((r) => r.rooms.some((g) => globMatch(g, c.room))) : this.#data.filter((r) => c.users.some((u) => r.users.some((g) => globMatch(g, u))));
      return this.#combine(rules);
    });
  }

  /** RESIDENCY_CONFLICT when no region may store `conversation`; its scope otherwise. */
  storable(conversation: string): ResidencyScope {
    const scope = this.scopeOf(conversation);
    if (scope.regions !== undefined && scope.regions.length === 0) {
      throw new MeridianError(ErrorCode.ResidencyConflict, `the residency rules of ${conversation} (${scope.rules.join(', ')}) allow no region in common: it cannot be stored anywhere`, { details: { conversation, rules: scope.rules } });
    }
    return scope;
  }

  /** RESIDENCY_FORBIDDEN when `region` may not serve `conversation` (strict, not allowed there). */
  checkServe(conversation: string, region: string): void {
    const scope = this.storable(conversation);
    if (scope.mode === 'strict' && scope.regions !== undefined && !scope.regions.includes(region)) {
      throw new MeridianError(ErrorCode.ResidencyForbidden, `${conversation} falls under strict residency (${scope.rules.join(', ')}): it is served only in ${scope.regions.join(', ')}, not in ${region}; connect there`, { details: { conversation, regions: scope.regions, rules: scope.rules } });
    }
  }

  /** RESIDENCY_FORBIDDEN when `from`'s message to `conversation` would be stored where `from`'s rules forbid. */
  checkSend(from: string, conversation: string): void {
    const scope = this.storable(conversation);
    const own = this.ofUser(from);
    if (own.regions === undefined) return;
    // A strict user's message is not relayed outside their regions: only into strict conversations.
    if (own.mode === 'strict' && scope.mode !== 'strict') {
      throw new MeridianError(ErrorCode.ResidencyForbidden, `${from}'s messages fall under strict residency (${own.rules.join(', ')}), but ${conversation} is not strict: its frames may pass through other regions`, { details: { conversation, regions: own.regions, rules: own.rules } });
    }
    const outside = (scope.regions ?? this.#regions.map((r) => r.name)).filter((r) => !own.regions!.includes(r));
    if (outside.length > 0) {
      throw new MeridianError(ErrorCode.ResidencyForbidden, `${from}'s messages must stay in ${own.regions.join(', ')} (${own.rules.join(', ')}), but ${conversation} may be stored in ${outside.join(', ')}`, { details: { conversation, regions: own.regions, rules: own.rules } });
    }
  }

  /**
   * At auth: a claimed jurisdiction must be known, and the claims must agree with the rules the
   * user id falls under (AUTH_RESIDENCY otherwise):
   * - claiming jurisdiction J, when some data rule covers J's users (`userJurisdictions`), the id
   *   must match the `users` of at least one of those rules;
   * - claiming country C, when some data rule covers C (`countries`), likewise;
   * - an id under a rule that names `userJurisdictions` must not claim another jurisdiction.
   * `country` is the user's country of residence as claimed, not where they connect from (that
   * only steers, at the edge); an id under a rule may claim any country (its data is kept by
   * the id's rule, which is at least as strict).
   */
  checkClaims(user: string, claims: { readonly jurisdiction?: string | undefined; readonly country?: string | undefined }): void {
    const { jurisdiction, country } = claims;
    // Without a topology (no region known) there is nothing to check a jurisdiction against.
    if (jurisdiction !== undefined && this.#regions.length > 0 && !this.#known.has(jurisdiction)) {
      throw new MeridianError(ErrorCode.AuthResidency, `unknown jurisdiction ${JSON.stringify(jurisdiction.slice(0, 16))} (known: ${[...this.#known].sort().join(', ')})`);
    }
    if (!this.active) return;
    const byId = this.#data.filter((r) => r.users.some((g) => globMatch(g, user)));
    const shown = JSON.stringify(user.slice(0, 64));
    const claimed = (what: string, rules: readonly ResidencyRule[]): void => {
      if (rules.length > 0 && !rules.some((r) => byId.includes(r))) {
        throw new MeridianError(ErrorCode.AuthResidency, `the credential claims ${what}, which residency rule${rules.length > 1 ? 's' : ''} ${rules.map((r) => `"${r.name}"`).join(', ')} cover${rules.length > 1 ? '' : 's'}, but user id ${shown} matches none of their users patterns (${rules.flatMap((r) => r.users).join(', ')}): its data would be stored outside them`);
      }
    };
    if (jurisdiction !== undefined) claimed(`jurisdiction ${jurisdiction}`, this.#data.filter((r) => r.users.length > 0 && r.userJurisdictions.includes(jurisdiction)));
    if (country !== undefined) claimed(`country ${country}`, this.#data.filter((r) => r.users.length > 0 && expandCountries(r.countries).includes(country)));
    if (jurisdiction !== undefined) {
      for (const r of byId) {
        if (r.userJurisdictions.length > 0 && !r.userJurisdictions.includes(jurisdiction)) {
          throw new MeridianError(ErrorCode.AuthResidency, `user id ${shown} falls under residency rule "${r.name}" (${r.userJurisdictions.join(', ')}), but the credential claims jurisdiction ${jurisdiction}`);
        }
      }
    }
  }

  /** The strictest retention limits of the rules applying to `conversation` (undefined: none). */
  retentionOf(conversation: string): RetentionPolicy | undefined {
    if (!this.active) return undefined;
    let scope: ResidencyScope;
    try {
      scope = this.scopeOf(conversation);
    } catch {
      return undefined;
    }
    let out: RetentionPolicy | undefined;
    for (const r of this.#data) if (r.retention !== undefined && scope.rules.includes(r.name)) out = strictest(out, policyOf(r.retention));
    return out;
  }

  /**
   * Every distinct set of regions a conversation may be confined to (each rule's, and the
   * intersections of rules that can apply together), for the failover's takeover planning.
   */
  regionSets(): readonly (readonly string[])[] {
    const sets = new Map<string, readonly string[]>();
    const add = (s: readonly string[]): void => {
      if (s.length > 0) sets.set(s.join(','), s);
    };
    this.#data.map((r) => this.#regionsOf(r)).forEach(add);
    // A direct conversation combines two users' rules and a user may fall under several: close
    // the sets under intersection (a topology's rules are few, and sets of regions fewer still).
    for (let grew = true; grew; ) {
      grew = false;
      const now = [...sets.values()];
      for (const a of now) {
        for (const b of now) {
          const both = a.filter((r) => b.includes(r));
          if (both.length > 0 && !sets.has(both.join(','))) {
            add(both);
            grew = true;
          }
        }
      }
    }
    return [...sets.values()];
  }

  #regionsOf(rule: ResidencyRule): string[] {
    return this.#regions.filter((r) => rule.jurisdictions.includes(r.jurisdiction)).map((r) => r.name);
  }

  #combine(rules: readonly ResidencyRule[]): ResidencyScope {
    if (rules.length === 0) return FREE;
    let regions = this.#regions.map((r) => r.name);
    for (const r of rules) {
      const ok = this.#regionsOf(r);
      regions = regions.filter((x) => ok.includes(x));
    }
    return { regions, mode: rules.some((r) => r.mode === 'strict') ? 'strict' : 'store', rules: rules.map((r) => r.name) };
  }

  #cached(key: string, make: () => ResidencyScope): ResidencyScope {
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const v = make();
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(key, v);
    return v;
  }
}
