/**
 * The service mesh as a region node's HTTP module: what `meridian up` and `meridian region` mount
 * so workers can register (`/v1/workers`, with the deployment's registration token) and be called
 * from every region (`/v1/services/…`, `/v1/functions/…`, `/v1/dlq/…`).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createServicesModule } from '../services/mod.js';
import type { EgressOptions } from '../services/mod.js';
import type { HttpModule } from '../module/http-module.js';
import { observeServices } from '../services/observe.js';
import type { RegionParts } from './region.js';

/** A fresh registration token (32 characters of base64url). */
export function newWorkerToken(): string {
  return randomBytes(24).toString('base64url');
}

/** A fresh operator credential (admin token) for `meridian up` / `meridian region`. */
export function newAdminToken(): string {
  return `mrd_admin_${randomBytes(24).toString('base64url')}`;
}

/**
 * The modules factory for `startRegion`: the services module of each region, its DLQ in the
 * region's data directory (SQLite) when there is one, else on the bus KV (JetStream on NATS).
 */
export function servicesModules(registrationToken: string, opts: { egress?: EgressOptions } = {}): (parts: RegionParts) => Promise<readonly HttpModule[]> {
  return async (p) => {
    const m = await createServicesModule({
      bus: p.bus,
      region: p.region,
      topology: p.topology,
      registrationToken,
      audit: p.audit,
      listeners: p.listeners,
      ...(opts.egress === undefined ? {} : { egress: opts.egress }),
      ...(p.dataDir === undefined ? {} : { dataDir: p.dataDir === ':memory:' ? ':memory:' : join(p.dataDir, p.region) }),
    });
    observeServices(p.metrics, m);
    return [m];
  };
}
