/** A region's bus dies, each region in turn, on the embedded bus (every region in this process). */
import { runOutageSuite } from './outage-suite.js';

runOutageSuite('embedded');
