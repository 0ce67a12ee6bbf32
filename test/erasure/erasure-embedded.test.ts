import { embeddedFactory } from '../e2e/deployments.js';
import { erasureSuite } from './erasure-suite.js';

erasureSuite('embedded', embeddedFactory);
