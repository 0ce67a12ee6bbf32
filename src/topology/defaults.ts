/**
 * The built-in topology used when no file is given: us-east (Ashburn), eu-west (Dublin),
 * ap-southeast (Singapore). Kept as YAML text identical to examples/meridian.yaml (a test checks
 * they agree), so the default goes through the same validation as any user file.
 */
import { parseTopology } from './load.js';
import type { Topology } from './schema.js';

export const DEFAULT_TOPOLOGY_YAML = `version: 1
regions:
  - name: us-east
    location: { lat: 39.04, lon: -77.49, city: Ashburn }
    jurisdiction: US
    capacity: { connections: 10000, rps: 10000 }
    cost: 1.0
    fallback: [eu-west]
  - name: eu-west
    location: { lat: 53.35, lon: -6.26, city: Dublin }
    jurisdiction: EU
    capacity: { connections: 10000, rps: 5000 }
    cost: 1.1
    fallback: [us-east]
  - name: ap-southeast
    location: { lat: 1.35, lon: 103.82, city: Singapore }
    jurisdiction: SG
    capacity: { connections: 5000, rps: 3000 }
    cost: 1.3
    fallback: [eu-west, us-east]
routing:
  weights: { proximity: 0.4, health: 0.3, latency: 0.2, cost: 0.1 }
  countries:
    - { countries: [US, CA, MX], regions: [us-east] }
    - { countries: [GB, EU], regions: [eu-west] }
    - { countries: [SG, VN, MY, ID, TH, PH], regions: [ap-southeast] }
  default: []
residency:
  - name: gdpr
    countries: [EU]
    jurisdictions: [EU]
    strict: true
wan:
  msPer100Km: 1
`;

export function defaultTopology(): Topology {
  return parseTopology(DEFAULT_TOPOLOGY_YAML, '<built-in default>');
}
