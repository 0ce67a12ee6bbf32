/** Names the haproxy edge shares with its clients and the Meridian edge (headers, cookie), and its tunnel limit. */
export const COUNTRY_HEADERS = ['X-Country', 'CF-IPCountry'] as const;
export const AFFINITY_COOKIE = 'meridian_region';
export const AFFINITY_HEADER = 'X-Meridian-Region';
/** Idle limit of an upgraded (WebSocket) connection; the node's heartbeats are far shorter. */
export const TUNNEL_TIMEOUT = '1h';
