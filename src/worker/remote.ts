/**
 * A worker registered with region nodes over HTTP: registration, heartbeats and deregistration go
 * through a `NodePool` (its own region's node first, the others as fallbacks).
 *
 * Heartbeats run one at a time, every lease interval, each attempt bounded by the interval (so a
 * node that hangs costs one interval, then the next node is tried). While a fallback node is in
 * use, every heartbeat is also offered to the own region's node; the first one it accepts moves
 * the worker back. A heartbeat refused with `SVC_UNKNOWN_WORKER` (evicted, or a node that has not
 * seen the worker yet) registers again through the node that refused it, with the region the
 * worker was first registered in: failing over never changes where the worker runs.
 */
import type { Load } from './client.js';
import { NodeApiError } from './client.js';
import { NodePool } from './nodes.js';

export interface RemoteOptions {
  readonly urls: readonly string[];
  readonly token: string;
  readonly requestTimeoutMs: number;
  readonly load: () => Load;
  readonly onError: (err: unknown) => void;
}

export interface Remote {
  readonly region: string;
  readonly heartbeatIntervalMs: number;
  /** The base URL of the node currently taking heartbeats. */
  readonly node: string;
  /** Stop heartbeating (waiting for one in flight), then deregister. */
  close(): Promise<void>;
}

const isUnknown = (err: unknown): boolean => err instanceof NodeApiError && err.code === 'SVC_UNKNOWN_WORKER';

export async function registerRemote(reg: { id: string; region?: string }, o: RemoteOptions): Promise<Remote> {
  const pool = new NodePool(o.urls, o.token);
  const lease = await pool.call((c) => c.register(reg, o.requestTimeoutMs));
  // From now on the worker's region is fixed, whichever node takes the next registration.
  const pinned = { ...reg, region: lease.region };
  const interval = lease.heartbeatIntervalMs;
  const timeoutMs = Math.min(o.requestTimeoutMs, interval);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const registerVia = async (via: 'pool' | 'home'): Promise<void> => {
    if (stopped) return;
    if (via === 'home') await pool.home((c) => c.register(pinned, o.requestTimeoutMs));
    else await pool.call((c) => c.register(pinned, o.requestTimeoutMs));
  };
  const viaPool = async (load: Load): Promise<void> => {
    try {
      await pool.call((c) => c.heartbeat(reg.id, load, timeoutMs));
    } catch (err) {
      if (!isUnknown(err)) throw err;
      await registerVia('pool');
    }
  };
  // While a fallback is in use, the own region's node may be back: offer it the heartbeat too.
  // Its failures are expected while its region is down and are not reported.
  const viaHome = async (load: Load): Promise<void> => {
    try {
      await pool.home((c) => c.heartbeat(reg.id, load, timeoutMs));
    } catch (err) {
      if (isUnknown(err)) await registerVia('home');
    }
  };
  const beat = async (): Promise<void> => {
    const load = o.load();
    const [main, probe] = await Promise.allSettled([viaPool(load), pool.onHome ? undefined : viaHome(load)]);
    if (main.status === 'rejected') o.onError(main.reason);
    if (probe.status === 'rejected') o.onError(probe.reason);
  };
  const tick = (): void => {
    const started = Date.now();
    running = beat().finally(() => {
      if (!stopped) timer = setTimeout(tick, Math.max(0, interval - (Date.now() - started))).unref();
    });
  };
  timer = setTimeout(tick, interval).unref();

  let closing: Promise<void> | undefined;
  return {
    region: lease.region,
    heartbeatIntervalMs: interval,
    get node() {
      return pool.current;
    },
    close() {
      closing ??= (async () => {
        stopped = true;
        clearTimeout(timer);
        await running;
        await pool.call((c) => c.deregister(reg.id, o.requestTimeoutMs)).catch((e: unknown) => o.onError(e));
      })();
      return closing;
    },
  };
}
