/** Clients of a lost home on the embedded bus (every region in this process). */
import { embeddedFactory } from './deployments.js';
import { lostHomeSuite } from './lost-home-suite.js';

lostHomeSuite('embedded bus, default topology', embeddedFactory);
