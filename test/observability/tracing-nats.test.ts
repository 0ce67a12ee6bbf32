// Cross-region traces on a real 3-region NATS super-cluster (traceparent crosses the gateways
// in NATS message headers). Skipped with an install hint without nats-server.
import { describeWithNats } from '../bus/nats-env.js';
import { natsFactory } from '../e2e/deployments.js';
import { tracingSuite } from './tracing-suite.js';

describeWithNats('traces on NATS', () => {
  tracingSuite(natsFactory);
});
