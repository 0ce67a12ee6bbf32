/** The cross-region services suite on a real three-region NATS super-cluster. */
import { describeWithNats } from '../bus/nats-env.js';
import { runMeshSuite } from './mesh-suite.js';

describeWithNats('services mesh: nats', () => runMeshSuite('nats'));
