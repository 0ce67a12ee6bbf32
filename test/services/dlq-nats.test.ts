/** The DLQ suite on JetStream KV in one region of a real NATS super-cluster, read from another. */
import { afterAll, beforeAll } from 'vitest';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { KvDeadLetterQueue } from '../../src/services/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { REGIONS, describeWithNats, latencyMs } from '../bus/nats-env.js';
import { runDlqSuite } from './dlq-suite.js';

describeWithNats('dlq: nats', () => {
  let sc: SuperCluster;
  const buses: NatsBus[] = [];
  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS, latencyMs });
    for (const r of ['eu-west', 'us-east']) buses.push(await connectNatsBus({ region: r, servers: [sc.url(r)], requestTimeoutMs: 3000 }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await sc?.close();
  });
  let bucket = 0;
  runDlqSuite({
    name: 'kv (JetStream, placed in eu-west)',
    async create() {
      const b = `mrd-dlq-test-${++bucket}`;
      const dlq = await KvDeadLetterQueue.open({ bus: buses[0]!, bucket: b });
      return { dlq, reopen: () => KvDeadLetterQueue.open({ bus: buses[1]!, bucket: b, region: 'eu-west' }), close: () => Promise.resolve() };
    },
  });
});
