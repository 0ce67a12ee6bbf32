export { ErrorCode, MeridianError, NotAvailableError, isMeridianError } from './errors.js';
export type { MeridianErrorOptions } from './errors.js';
export { HTTP_STATUS, httpStatus } from './http-status.js';
