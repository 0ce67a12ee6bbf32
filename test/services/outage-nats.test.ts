/** A region's bus dies (its nats-server stops), each region in turn, on the 3-region NATS super-cluster with 50 ms links. */
import { describeWithNats } from '../bus/nats-env.js';
import { runOutageSuite } from './outage-suite.js';

describeWithNats('services outage: nats', () => runOutageSuite('nats'));
