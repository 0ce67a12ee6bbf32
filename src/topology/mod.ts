export { TopologySchema, RegionSchema, DEFAULT_WEIGHTS, REGION_NAME } from './schema.js';
export type { Topology, Region, RoutingWeights, ResidencyRule, PolicyDecl, ServiceDecl, FunctionDecl } from './schema.js';
export { parseTopology, loadTopology, formatProblem, TopologyError } from './load.js';
export type { TopologyProblem } from './load.js';
export { defaultTopology, DEFAULT_TOPOLOGY_YAML } from './defaults.js';
export { greatCircleKm } from './geo.js';
export type { LatLon } from './geo.js';
export { linkLatencyMs } from './wan.js';
export { expandCountries, COUNTRY_GROUPS } from './countries.js';
