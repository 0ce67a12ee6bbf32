/** The end-to-end messaging suite on the embedded bus: three regions in this process over the simulated WAN. */
import { embeddedFactory } from './deployments.js';
import { messagingSuite } from './messaging-suite.js';

messagingSuite('embedded bus, 3 regions', embeddedFactory);
