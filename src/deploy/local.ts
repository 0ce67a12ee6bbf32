/**
 * `meridian plan --local`: every host on 127.0.0.1, each listener on its own free port, so the
 * whole deployment can be started on one machine (to try it, and in tests).
 *
 * Ports are chosen when planning (the OS picks them: listen on port 0) and handed out on demand
 * to (host, listener) pairs, the same pair always getting the same port. `LocalPorts.port` is
 * synchronous for the generators, so a pool is reserved up front; the assignment is written to
 * `local/ports.json` in the output directory so tools and tests can find every listener.
 * A port free at plan time can be taken by another process before the servers start: plan again.
 */
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { freePorts } from '../testing/ports.js';
import type { Inventory, LocalPorts } from './types.js';

/** Listeners per host reserved up front (NATS uses four; the rest is headroom for others). */
const PER_HOST = 8;

export interface LocalPortMap extends LocalPorts {
  /** Every port handed out so far: host → listener → port (sorted keys). */
  assigned(): Record<string, Record<string, number>>;
}

export async function allocateLocalPorts(inventory: Inventory): Promise<LocalPortMap> {
  const pool = await freePorts(inventory.hosts.length * PER_HOST + 8);
  const byKey = new Map<string, number>();
  const table = new Map<string, Map<string, number>>();
  return {
    port(host: string, listener: string): number {
      const key = `${host}\u0000${listener}`;
      const known = byKey.get(key);
      if (known !== undefined) return known;
      const next = pool.shift();
      if (next === undefined) {
        throw new MeridianError(ErrorCode.InvalidArgument, `--local: ran out of reserved ports at ${host} ${listener}`, { details: { host, listener } });
      }
      byKey.set(key, next);
      let row = table.get(host);
      if (row === undefined) table.set(host, (row = new Map<string, number>()));
      row.set(listener, next);
      return next;
    },
    assigned() {
      const hosts = [...table.keys()].sort();
      return Object.fromEntries(hosts.map((h) => [h, Object.fromEntries([...table.get(h)!.entries()].sort(([a], [b]) => a.localeCompare(b)))]));
    },
  };
}
