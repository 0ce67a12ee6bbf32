/**
 * The regions the residency unit tests share: two EU regions, one US, one SG (YAML text, so the
 * tests' topologies go through the same validation as a user's file, with known line numbers:
 * these are lines 1–13).
 */
export const FOUR_REGIONS_YAML = `regions:
  - name: eu-west
    location: { lat: 53.35, lon: -6.26 }
    jurisdiction: EU
  - name: eu-central
    location: { lat: 50.11, lon: 8.68 }
    jurisdiction: EU
  - name: us-east
    location: { lat: 39.04, lon: -77.49 }
    jurisdiction: US
  - name: ap-southeast
    location: { lat: 1.35, lon: 103.82 }
    jurisdiction: SG
`;
