/**
 * The Cloudflare Load Balancing export (src/edge/cloudflare.ts) as a plan target:
 * `cloudflare/load-balancer.json`. An origin is the host of the region's node as the public
 * reaches it: `deploy.kubernetes.nodeUrls.<region>` when set (Cloudflare connects on the
 * client's port, 80 or 443); without a VPN, `deploy.hosts.<region>` (the region's one public
 * address, where its node runs). With a VPN and no node URL the plan knows no public address of
 * the node (`deploy.hosts` is then the lighthouse), so the export keeps its placeholder there.
 */
import { cloudflareLb } from '../edge/cloudflare.js';
import type { Generator } from './types.js';

export const planCloudflare: Generator = (ctx) => {
  const { hosts, kubernetes, vpn } = ctx.topology.deploy;
  const origins: Record<string, string> = {};
  for (const r of ctx.topology.regions) {
    const url = kubernetes.nodeUrls[r.name];
    const origin = url !== undefined ? new URL(url).hostname.replace(/^\[|\]$/g, '') : vpn.kind === 'none' ? hosts[r.name] : undefined;
    if (origin !== undefined) origins[r.name] = origin;
  }
  const lb = cloudflareLb(ctx.topology, Object.keys(origins).length > 0 ? { origins } : {});
  return [
    {
      path: 'cloudflare/load-balancer.json',
      content: `${JSON.stringify(lb, null, 2)}\n`,
      about: 'Cloudflare Load Balancing (monitor, pools, steering): apply with the API or Terraform; see docs/edge.md',
    },
  ];
};
