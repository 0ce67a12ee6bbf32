/**
 * The ONE presence conformance suite: every way of running `Presence` (embedded bus, NATS
 * super-cluster) runs it through a `PresenceFactory` (helpers.ts), held to src/presence/types.ts.
 *
 * One environment per run (a NATS one starts a super-cluster); every test starts its own nodes
 * and uses fresh user and room ids, so tests sharing the buckets never see each other. Known
 * differences show up as skipped tests carrying the reason, never silently.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { basicTests } from './conformance-basic.js';
import { faultTests } from './conformance-faults.js';
import type { PresenceEnv, PresenceFactory, PresenceNode, PresenceSuite } from './helpers.js';

export type { PresenceEnv, PresenceFactory, PresenceNode } from './helpers.js';

export function runPresenceConformance(factory: PresenceFactory): void {
  describe(`presence conformance (${factory.name})`, () => {
    let env: PresenceEnv | undefined;
    const started: PresenceNode[] = [];
    beforeAll(async () => {
      const created = await factory.create();
      // Nodes a test starts are closed after it, so the next test starts from quiet buckets.
      env = {
        regions: created.regions,
        linkLatencyMs: (a, b) => created.linkLatencyMs(a, b),
        async node(region, name, opts) {
          const n = await created.node(region, name, { ...factory.options, ...opts });
          started.push(n);
          return n;
        },
        close: () => created.close(),
      };
    }, 60_000);
    afterEach(async () => {
      await Promise.all(started.splice(0).map((n) => n.close()));
    }, 30_000);
    afterAll(async () => {
      await env?.close();
    }, 60_000);
    const suite: PresenceSuite = {
      get env(): PresenceEnv {
        if (!env) throw new Error('the environment is not created yet');
        return env;
      },
      opts: factory.options,
      test(name, fn, timeoutMs) {
        const known = factory.knownDifferences?.find((d) => d.test === name);
        if (known) it.skip(`${name} [known difference: ${known.reason}]`, fn);
        else it(name, fn, timeoutMs);
      },
    };
    basicTests(suite);
    faultTests(suite);
  });
}
