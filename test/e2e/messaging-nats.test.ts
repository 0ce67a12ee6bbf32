/**
 * The end-to-end messaging suite on a real 3-region NATS super-cluster, 50 ms one way on every
 * gateway link. Skipped with an install hint without nats-server (fails with MERIDIAN_REQUIRE_NATS=1).
 */
import { describeWithNats } from '../bus/nats-env.js';
import { natsFactory, NATS_LINK_MS } from './deployments.js';
import { messagingSuite } from './messaging-suite.js';

describeWithNats('e2e on nats', () => {
  messagingSuite(`NATS super-cluster, 3 regions, ${NATS_LINK_MS} ms links`, natsFactory);
});
