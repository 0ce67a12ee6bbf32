/** The cross-region services suite on the embedded bus (every region in this process). */
import { runMeshSuite } from './mesh-suite.js';

runMeshSuite('embedded');
