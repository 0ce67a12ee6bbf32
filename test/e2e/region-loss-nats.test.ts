/**
 * The region-loss suite on a real 3-region NATS super-cluster (50 ms one way on every gateway
 * link): each region's nats-server is killed with SIGKILL in turn, the first region's included.
 * Skipped with an install hint without nats-server (fails with MERIDIAN_REQUIRE_NATS=1).
 */
import { describeWithNats } from '../bus/nats-env.js';
import { natsFactory, NATS_LINK_MS } from './deployments.js';
import { regionLossSuite } from './region-loss-suite.js';

describeWithNats('region loss on nats', () => {
  regionLossSuite(`NATS super-cluster, 3 regions, ${NATS_LINK_MS} ms links`, natsFactory, { settleMs: 1000, lossMs: 3000 });
});
