/**
 * `/ws` reached without an upgrade (a plain GET, a proxy that dropped the Upgrade header): 426
 * saying how to connect. Upgrades themselves are admitted by server.ts and served by ws.ts.
 */
import { ErrorCode } from '../../errors/mod.js';
import { sendError } from '../../http/respond.js';
import { SUBPROTOCOL } from '../../protocol/mod.js';
import type { Route } from './route.js';

export const upgradeRequired: Route = {
  path: '/ws',
  handle: (_c, { res }) => sendError(res, 426, ErrorCode.UpgradeRequired, `connect with a WebSocket offering the ${SUBPROTOCOL} subprotocol`, undefined, { upgrade: 'websocket' }),
};
