/**
 * Clients of a lost home on a real 3-region NATS super-cluster (50 ms one way on every gateway
 * link; the lost region's nats-server killed with SIGKILL). Skipped with an install hint without
 * nats-server (fails with MERIDIAN_REQUIRE_NATS=1).
 */
import { describeWithNats } from '../bus/nats-env.js';
import { natsFactory, NATS_LINK_MS } from './deployments.js';
import { lostHomeSuite } from './lost-home-suite.js';

describeWithNats('clients of a lost home on nats', () => {
  lostHomeSuite(`NATS super-cluster, 3 regions, ${NATS_LINK_MS} ms links`, natsFactory);
});
