// Cross-region traces on the embedded bus (every region in this process).
import { describe } from 'vitest';
import { embeddedFactory } from '../e2e/deployments.js';
import { tracingSuite } from './tracing-suite.js';

describe('traces on the embedded bus', () => {
  tracingSuite(embeddedFactory);
});
