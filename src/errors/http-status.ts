/**
 * The HTTP status of every error code: the one table node/, edge/ and services/ answer a typed
 * failure with (src/http/respond.ts `sendFailure`), so the same failure gets the same status on
 * every endpoint. Total by type: a new ErrorCode does not compile until it has a status here.
 *
 * Codes raised only outside a request (the client library, the CLI's keys file, deployment
 * planning) have one too, chosen by what the failure would mean to an HTTP caller; the region
 * node's wire names (docs/protocol.md) keep the statuses its HTTP API always answered them with.
 */
import { ErrorCode } from './errors.js';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  // topology, deployment planning
  [ErrorCode.TopologyInvalid]: 400,
  [ErrorCode.TopologyNotFound]: 404,
  // bus
  [ErrorCode.BusInvalidSubject]: 400,
  [ErrorCode.BusInvalidHeader]: 400,
  [ErrorCode.BusInvalidQueue]: 400,
  // An event too large for the bus (in-process workers are reached over it).
  [ErrorCode.BusPayloadTooLarge]: 413,
  [ErrorCode.BusTimeout]: 503,
  [ErrorCode.BusNoResponders]: 502,
  [ErrorCode.BusClosed]: 503,
  [ErrorCode.BusUnavailable]: 503,
  [ErrorCode.BusUnknownRegion]: 400,
  // kv
  [ErrorCode.KvInvalidKey]: 400,
  [ErrorCode.KvInvalidBucket]: 400,
  [ErrorCode.KvWrongRevision]: 409,
  [ErrorCode.KvKeyExists]: 409,
  // edge steering input
  [ErrorCode.EdgeInvalidCountry]: 400,
  [ErrorCode.EdgeInvalidLocation]: 400,
  [ErrorCode.EdgeInvalidRtt]: 400,
  [ErrorCode.EdgeInvalidIp]: 400,
  [ErrorCode.EdgeInvalidTrustedProxy]: 400,
  [ErrorCode.EdgeGeoIpUnavailable]: 503,
  // edge server
  [ErrorCode.EdgeInvalidConfig]: 400,
  [ErrorCode.EdgeUnknownRegion]: 404,
  [ErrorCode.EdgeNoRegion]: 503,
  [ErrorCode.EdgeUpstreamFailed]: 502,
  [ErrorCode.EdgeUpstreamTimeout]: 504,
  [ErrorCode.EdgeRateLimited]: 429,
  [ErrorCode.EdgeUnauthorized]: 401,
  [ErrorCode.EdgeForbidden]: 403,
  [ErrorCode.EdgeOriginNotAllowed]: 403,
  [ErrorCode.EdgeNotFound]: 404,
  [ErrorCode.EdgeInternal]: 500,
  // services: registry, policies, proxy, functions, DLQ
  [ErrorCode.SvcInvalidRegistration]: 400,
  [ErrorCode.SvcInvalidPolicy]: 400,
  [ErrorCode.SvcUnknownWorker]: 404,
  [ErrorCode.SvcNoEndpoints]: 503,
  [ErrorCode.SvcOverloaded]: 503,
  [ErrorCode.SvcTimeout]: 504,
  [ErrorCode.SvcUnknownService]: 404,
  [ErrorCode.SvcUnknownFunction]: 404,
  [ErrorCode.SvcInvalidEvent]: 400,
  [ErrorCode.SvcBodyTooLarge]: 413,
  [ErrorCode.SvcUpstreamFailed]: 502,
  [ErrorCode.SvcUnauthorized]: 401,
  [ErrorCode.SvcNotFound]: 404,
  [ErrorCode.SvcBreakerOpen]: 503,
  [ErrorCode.SvcForbidden]: 403,
  // 508 Loop Detected (RFC 5842): a service registered at a node's own /v1/services/….
  [ErrorCode.SvcLoopDetected]: 508,
  // message log
  [ErrorCode.LogInvalidConversation]: 400,
  [ErrorCode.LogInvalidArgument]: 400,
  [ErrorCode.LogBodyTooLarge]: 413,
  [ErrorCode.LogDuplicateGone]: 409,
  [ErrorCode.LogContention]: 503,
  [ErrorCode.LogUnavailable]: 503,
  [ErrorCode.LogClosed]: 503,
  [ErrorCode.LogOutOfOrder]: 503,
  // messaging, presence
  [ErrorCode.MsgForbidden]: 403,
  [ErrorCode.MsgInvalid]: 400,
  [ErrorCode.MsgBadSequence]: 400,
  [ErrorCode.MsgUnavailable]: 503,
  [ErrorCode.MsgTimeout]: 504,
  [ErrorCode.MsgClosed]: 503,
  [ErrorCode.MsgFenced]: 503,
  [ErrorCode.MsgDurabilityNotAllowed]: 400,
  [ErrorCode.PresenceInvalid]: 400,
  [ErrorCode.PresenceClosed]: 503,
  // region node configuration and authentication
  [ErrorCode.NodeInvalidConfig]: 400,
  [ErrorCode.OriginNotAllowed]: 403,
  [ErrorCode.AuthFailed]: 401,
  [ErrorCode.AuthExpired]: 401,
  [ErrorCode.AuthResidency]: 401,
  // API keys (the keys file belongs to the server: a bad one is its failure, a locked one passes)
  [ErrorCode.KeysInvalidScope]: 400,
  [ErrorCode.KeysUnknownId]: 404,
  [ErrorCode.KeysInvalidFile]: 500,
  [ErrorCode.KeysInvalidArgument]: 400,
  [ErrorCode.KeysFileLocked]: 503,
  // the TypeScript client (raised on the client's side, never answered by a server)
  [ErrorCode.ClientClosed]: 500,
  [ErrorCode.ClientTimeout]: 504,
  [ErrorCode.ClientRequestFailed]: 502,
  [ErrorCode.ClientConnectionClosed]: 502,
  [ErrorCode.ClientSendExpired]: 504,
  [ErrorCode.ClientProtocol]: 502,
  [ErrorCode.ClientInvalid]: 400,
  [ErrorCode.ClientUnreachable]: 503,
  // generic
  [ErrorCode.NotAvailable]: 501,
  [ErrorCode.InvalidArgument]: 400,
  // erasure, residency
  [ErrorCode.ErasureInvalid]: 400,
  [ErrorCode.ErasureNotFound]: 404,
  [ErrorCode.ErasureUnavailable]: 503,
  [ErrorCode.ErasureReceiptInvalid]: 400,
  [ErrorCode.ResidencyForbidden]: 403,
  [ErrorCode.ResidencyConflict]: 403,
  // the region node's wire names, as its HTTP API answers them
  [ErrorCode.BadFrame]: 400,
  [ErrorCode.UnknownType]: 400,
  [ErrorCode.InvalidField]: 400,
  [ErrorCode.FrameTooLarge]: 413,
  [ErrorCode.BodyTooLarge]: 413,
  [ErrorCode.NotAuthenticated]: 401,
  [ErrorCode.AlreadyAuthenticated]: 409,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.BadSequence]: 400,
  [ErrorCode.DuplicateGone]: 409,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.Timeout]: 504,
  [ErrorCode.NotSupported]: 501,
  [ErrorCode.InternalError]: 500,
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.UpgradeRequired]: 426,
  [ErrorCode.MethodNotAllowed]: 405,
};

/** The HTTP status an error code is answered with (500 for a code from a newer peer). */
export function httpStatus(code: string): number {
  return HTTP_STATUS[code as ErrorCode] ?? 500;
}
