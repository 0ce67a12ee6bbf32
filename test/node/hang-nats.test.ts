// The node-hang reproductions (hang-suite.ts) on a 3-region NATS super-cluster (JetStream log).
import { afterAll, beforeAll } from 'vitest';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { describeWithNats, REGIONS } from '../bus/nats-env.js';
import { hangSuite } from './hang-suite.js';

describeWithNats('node never hangs (NATS log)', () => {
  let sc: SuperCluster;
  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS });
  }, 60_000);
  afterAll(async () => {
    await sc?.close();
  });
  hangSuite(() => ({ bus: 'nats', three: true, nats: REGIONS.map((r) => `${r}=${sc.url(r)}`).join(',') }));
});
