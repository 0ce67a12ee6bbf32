/** Erasure across every region and replica, with a signed receipt (docs/residency.md, "Erasure"). */
export { RegionErasure } from './service.js';
export type { RegionErasureOptions } from './service.js';
export { verifyReceipt } from './receipt.js';
export type { ReceiptPayload, ReceiptRegion } from './receipt.js';
export { loadSigningKey, KEY_FILE } from './signing.js';
export type { SigningKey } from './signing.js';
export { ID as ERASURE_ID } from './records.js';
export { ZERO_COUNTS, subjectLabel } from './types.js';
export type { Confirmation, ErasureCounts, ErasureRequest, ErasureService, ErasureStatus, ErasureSubject, ErasureTarget, Jwks, RegionStatus } from './types.js';
