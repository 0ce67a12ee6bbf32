// The node-hang reproductions (hang-suite.ts) on the embedded bus and SQLite log.
import { describe } from 'vitest';
import { hangSuite } from './hang-suite.js';

describe('node never hangs (embedded log)', () => {
  hangSuite(() => ({ bus: 'embedded' }));
});
