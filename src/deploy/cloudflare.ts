/**
 * The Cloudflare Load Balancing export (src/edge/cloudflare.ts) as a plan target:
 * `cloudflare/load-balancer.json`. Origins are the regions' public addresses (`deploy.hosts`)
 * when the topology names them, else the export's placeholders.
 */
import { cloudflareLb } from '../edge/cloudflare.js';
import type { Generator } from './types.js';

export const planCloudflare: Generator = (ctx) => {
  const hosts = ctx.topology.deploy.hosts;
  const origins = Object.fromEntries(ctx.topology.regions.filter((r) => hosts[r.name] !== undefined).map((r) => [r.name, hosts[r.name]!]));
  const lb = cloudflareLb(ctx.topology, Object.keys(origins).length > 0 ? { origins } : {});
  return [
    {
      path: 'cloudflare/load-balancer.json',
      content: `${JSON.stringify(lb, null, 2)}\n`,
      about: 'Cloudflare Load Balancing (monitor, pools, steering): apply with the API or Terraform; see docs/edge.md',
    },
  ];
};
