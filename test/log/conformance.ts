/**
 * The ONE message log conformance suite: every `MessageLog` implementation runs it through a
 * `LogFactory` (helpers.ts), so the embedded (SQLite) and NATS logs are held to the same
 * contract (src/log/types.ts).
 *
 * One environment per run (a NATS one starts a super-cluster); every test opens its own fresh
 * log (own file / own stream), so tests never see each other's entries. Known differences of an
 * implementation show up as skipped tests carrying the reason, never silently.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { basicTests } from './conformance-basic.js';
import { lifecycleTests } from './conformance-lifecycle.js';
import { retentionTests } from './conformance-retention.js';
import { storeTests } from './conformance-store.js';
import type { LogEnv, LogFactory, LogSuite } from './helpers.js';

export type { LogEnv, LogFactory, LogHandle } from './helpers.js';

export function runLogConformance(factory: LogFactory): void {
  describe(`message log conformance (${factory.name})`, () => {
    let env: LogEnv | undefined;
    beforeAll(async () => {
      env = await factory.create();
    }, 60_000);
    afterAll(async () => {
      await env?.close();
    }, 60_000);
    const suite: LogSuite = {
      get env(): LogEnv {
        if (!env) throw new Error('the environment is not created yet');
        return env;
      },
      test(name, fn, timeoutMs) {
        const known = factory.knownDifferences?.find((d) => d.test === name);
        if (known) it.skip(`${name} [known difference: ${known.reason}]`, fn);
        else it(name, fn, timeoutMs);
      },
    };
    basicTests(suite);
    lifecycleTests(suite);
    storeTests(suite);
    retentionTests(suite);
  });
}

