/**
 * The key material of one plan. Generators ask for a secret by name (`nats/ca`,
 * `nats/user/us-east`) and get the same value every time within the plan, so the generator that
 * writes a seed and the one that embeds its public key agree without knowing about each other.
 * Values are made lazily: a plan for `--only cloudflare` makes no keys at all.
 */
import type { Secrets } from './types.js';

export function planSecrets(): Secrets {
  const made = new Map<string, unknown>();
  return {
    get<T>(name: string, make: () => T): T {
      if (!made.has(name)) made.set(name, make());
      return made.get(name) as T;
    },
  };
}
