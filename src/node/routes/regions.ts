/**
 * `GET /v1/regions`: the topology with the live state of each region as this node sees it
 * (../regions.ts), public. The one /v1 endpoint served without the bus: it says which regions
 * are reachable, which is most useful when this one's bus is gone.
 */
import { sendJson } from '../../http/respond.js';
import type { Route } from './route.js';

export const regions: Route = {
  path: '/v1/regions',
  methods: ['GET', 'HEAD'],
  async handle(c, { res }) {
    const { opts } = c.node;
    const urls = opts.regionUrls;
    const rows = await Promise.all(
      opts.topology.regions.map(async (r) => {
        const self = r.name === opts.region;
        const state = self ? { reachable: true, rttMs: 0, nodes: [c.self()], checkedAt: Date.now() } : await c.view.state(r.name);
        return {
          name: r.name,
          city: r.location.city ?? null,
          location: { lat: r.location.lat, lon: r.location.lon },
          jurisdiction: r.jurisdiction,
          url: urls[r.name] ?? null,
          self,
          ...state,
        };
      }),
    );
    sendJson(res, 200, { region: opts.region, node: opts.node, regions: rows });
  },
};
