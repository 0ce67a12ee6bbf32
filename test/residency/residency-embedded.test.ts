import { embeddedFactory } from '../e2e/deployments.js';
import { residencySuite } from './residency-suite.js';

residencySuite('embedded bus', embeddedFactory);
