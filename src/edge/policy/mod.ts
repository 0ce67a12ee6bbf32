/** The steering policy: pure functions from topology, region states and client to a decision. */
export { decide } from './decide.js';
export { normalizeCountry, validateLocation, normalizeClient, parseRttReport, rttFromMap, MAX_RTT_MS } from './validate.js';
export type { NormalizedClient } from './validate.js';
export { countryMatches, residencyFor, poolFor, fallbackChain, stateExclusion } from './constraints.js';
export type { ResidencyBinding, Pool } from './constraints.js';
export { scoreRegion, estimateRttMs, headroom, costPart, latencyPart, HALF_CIRCUMFERENCE_KM, RTT_BASE_MS, RTT_CEILING_MS, NEUTRAL_PART } from './score.js';
export type { Scored } from './score.js';
export type { RegionState, RegionStates, SteeringClient, RttSource, DecideOptions, ScoreParts, RttKind, Candidate, DecisionReason, Decision } from './types.js';
