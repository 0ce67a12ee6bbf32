/** Every doctor check, in report order. */
import type { CheckLine, Snapshot } from '../types.js';
import { checkClocks } from './clock.js';
import { checkGatewayRtts, checkGateways } from './gateways.js';
import { checkMeta } from './meta.js';
import { checkNodes } from './nodes.js';
import { checkPlacement } from './placement.js';
import { checkResidency } from './residency.js';
import { checkServers } from './server.js';
import { checkCerts } from './tls.js';

export const CHECKS = [checkServers, checkGateways, checkGatewayRtts, checkMeta, checkPlacement, checkNodes, checkResidency, checkCerts, checkClocks] as const;

export function runChecks(s: Snapshot): CheckLine[] {
  return CHECKS.flatMap((check) => check(s));
}

export { checkClocks, checkGatewayRtts, checkGateways, checkMeta, checkNodes, checkPlacement, checkResidency, checkServers, checkCerts };
