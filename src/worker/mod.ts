/** `meridian/worker`: serve HTTP services and CloudEvents functions in the Meridian mesh. */
export { serve } from './serve.js';
export { NodeApiError } from './client.js';
export { NodesUnavailableError } from './nodes.js';
export type { FunctionHandler, ServeOptions, ServiceEntry, ServiceHandler, Worker } from './types.js';
