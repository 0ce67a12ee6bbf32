/**
 * Residency on a real 3-region NATS super-cluster (50 ms one way on every gateway link; the lost
 * region's nats-server killed with SIGKILL and started again on its JetStream store). Skipped
 * with an install hint without nats-server (fails with MERIDIAN_REQUIRE_NATS=1).
 */
import { describeWithNats } from '../bus/nats-env.js';
import { natsFactory, NATS_LINK_MS } from '../e2e/deployments.js';
import { residencySuite } from './residency-suite.js';

describeWithNats('residency on nats', () => {
  residencySuite(`NATS super-cluster, 3 regions, ${NATS_LINK_MS} ms links`, natsFactory);
});
