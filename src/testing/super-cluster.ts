/**
 * A NATS super-cluster for tests: one nats-server per region (cluster name = region), joined by
 * gateways that all pass through `TcpProxy`s, so every inter-region link can be delayed or cut.
 *
 * Each region has one ingress proxy in front of its gateway port, and every peer's gateway entry
 * for that region points at it. The proxy reads the gateway CONNECT to learn which region dialed
 * and applies that link's latency and cut state, so a's outbound connection to b plays link
 * a–b. One proxy per destination (rather than one per ordered pair) is deliberate: gateways
 * gossip the URLs they were configured with, and a server would otherwise reconnect through a
 * proxy meant for another region after a cut. For the same reason each server advertises its
 * ingress proxy as its gateway address, so no gossiped URL leads around the proxies.
 *
 * Regions can be stopped and started again with the same ports and JetStream store, and every
 * wait (start, restart) ends with all running regions' gateways connected both ways.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { forgetDir, removeOnExit } from './cleanup.js';
import { gatewayConnectName, gatewayReadinessProblem, outboundGatewayRtts } from './gateway-checks.js';
import { waitUntil } from './monitor.js';
import { renderNatsConfig } from './nats-config.js';
import { NatsServerProcess, requireNatsServer } from './nats-server.js';
import { freePorts } from './ports.js';
import { TcpProxy } from './tcp-proxy.js';

export interface SuperClusterOptions {
  /** Region names; each becomes a one-server NATS cluster of that name. */
  regions: readonly string[];
  /** One-way latency of gateway links in ms: one value for all, or per ordered pair. Default 0. */
  latencyMs?: number | ((from: string, to: string) => number);
  /** JetStream on every server (one meta group across regions). Default true. */
  jetstream?: boolean;
  /** Server ping interval; gateway RTTs (and so queue-group routing) refresh at this pace. Default 1. */
  pingIntervalSec?: number;
  /** Limit for startup and every readiness wait. Default 30 000 ms. */
  timeoutMs?: number;
}

interface Region {
  name: string;
  clientPort: number;
  httpPort: number;
  clusterPort: number;
  gatewayPort: number;
  httpUrl: string;
  server: NatsServerProcess;
}

export class SuperCluster {
  private closed = false;

  private constructor(
    readonly regions: readonly string[],
    /** Temp dir holding configs, logs (`<region>.log`) and JetStream stores. */
    readonly dir: string,
    private readonly byName: ReadonlyMap<string, Region>,
    private readonly ingresses: ReadonlyMap<string, TcpProxy>,
    private readonly jetstream: boolean,
    private readonly timeoutMs: number,
  ) {}

  /** Start all servers and proxies; resolves when every gateway is connected both ways. */
  static async start(options: SuperClusterOptions): Promise<SuperCluster> {
    const names = [...options.regions];
    if (names.length === 0 || new Set(names).size !== names.length) {
      throw new MeridianError(ErrorCode.InvalidArgument, 'regions must be a non-empty list of distinct names', {
        details: { regions: names },
      });
    }
    const binary = requireNatsServer();
    const latency = options.latencyMs ?? 0;
    const latencyOf = typeof latency === 'number' ? () => latency : latency;
    const jetstream = options.jetstream ?? true;
    const dir = await mkdtemp(join(tmpdir(), 'meridian-sc-'));
    removeOnExit(dir);
    const ingresses = new Map<string, TcpProxy>();
    const byName = new Map<string, Region>();
    const cluster = new SuperCluster(names, dir, byName, ingresses, jetstream, options.timeoutMs ?? 30_000);
    try {
      const ports = await freePorts(names.length * 4);
      const port = (i: number): number => ports[i] ?? 0;
      for (const [i, name] of names.entries()) {
        const httpUrl = `http://127.0.0.1:${port(i * 4 + 1)}`;
        const logFile = join(dir, `${name}.log`);
        byName.set(name, {
          name,
          clientPort: port(i * 4),
          httpPort: port(i * 4 + 1),
          clusterPort: port(i * 4 + 2),
          gatewayPort: port(i * 4 + 3),
          httpUrl,
          server: new NatsServerProcess({ binary, configFile: join(dir, `${name}.conf`), logFile, httpUrl }),
        });
        const ingress = await TcpProxy.start({ targetPort: port(i * 4 + 3), classify: gatewayConnectName });
        ingresses.set(name, ingress);
      }
      for (const a of names) {
        for (const b of names) if (a !== b) cluster.ingress(b).setLatency(latencyOf(a, b), a);
      }
      for (const name of names) {
        await writeFile(join(dir, `${name}.conf`), await cluster.config(name, options.pingIntervalSec ?? 1));
      }
      await Promise.all(names.map((n) => cluster.region(n).server.start()));
      await cluster.waitReady();
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  private async config(name: string, pingIntervalSec: number): Promise<string> {
    const r = this.region(name);
    const storeDir = join(this.dir, 'js', name);
    if (this.jetstream) await mkdir(storeDir, { recursive: true });
    const ingressUrl = (region: string): string => `nats://127.0.0.1:${this.ingress(region).port}`;
    return renderNatsConfig({
      serverName: name,
      port: r.clientPort,
      httpPort: r.httpPort,
      tags: [`region:${name}`],
      pingIntervalSec,
      ...(this.jetstream ? { jetstreamStoreDir: storeDir } : {}),
      cluster: { name, port: r.clusterPort, routes: [`nats://127.0.0.1:${r.clusterPort}`] },
      gateway: {
        name,
        port: r.gatewayPort,
        advertise: `127.0.0.1:${this.ingress(name).port}`,
        gateways: this.regions.map((other) => ({
          name: other,
          urls: [other === name ? `nats://127.0.0.1:${r.gatewayPort}` : ingressUrl(other)],
        })),
      },
    });
  }

  /** Client URL of a region's server. */
  url(region: string): string {
    return `nats://127.0.0.1:${this.region(region).clientPort}`;
  }

  /** Client URL of every region, by region name. */
  urls(): Record<string, string> {
    return Object.fromEntries(this.regions.map((r) => [r, this.url(r)]));
  }

  /** Monitoring base URL (http://127.0.0.1:port) of a region's server. */
  httpUrl(region: string): string {
    return this.region(region).httpUrl;
  }

  /** The server process of a region (pid, log tail). */
  server(region: string): NatsServerProcess {
    return this.region(region).server;
  }

  /**
   * The proxy in front of a region's gateway port. Its connections are labelled with the region
   * that dialed (`connectionsOf("us-east")`).
   */
  ingress(region: string): TcpProxy {
    const p = this.ingresses.get(region);
    if (p === undefined) throw this.unknown(region);
    return p;
  }

  /** Current one-way latency of `from`'s outbound gateway link to `to`. */
  latencyMs(from: string, to: string): number {
    return this.ingress(to).latencyOf(this.checked(from));
  }

  isRunning(region: string): boolean {
    return this.region(region).server.running;
  }

  /** Stop a region's server (SIGTERM; `kill: true` for SIGKILL) and wait until it exited. */
  async stop(region: string, options: { kill?: boolean } = {}): Promise<void> {
    await this.region(region).server.stop(options);
  }

  /** Start a stopped region (same ports and store) and wait until all gateways are back. */
  async start(region: string): Promise<void> {
    await this.region(region).server.start();
    await this.waitReady();
  }

  async restart(region: string): Promise<void> {
    await this.stop(region);
    await this.start(region);
  }

  /** Partition two regions: gateway connections between them (both ways) drop and stay down. */
  cut(a: string, b: string): void {
    this.ingress(b).cut(this.checked(a));
    this.ingress(a).cut(this.checked(b));
  }

  restore(a: string, b: string): void {
    this.ingress(b).restore(this.checked(a));
    this.ingress(a).restore(this.checked(b));
  }

  /** Set the one-way latency of the a–b link, both directions. */
  setLatency(a: string, b: string, ms: number): void {
    this.ingress(b).setLatency(ms, this.checked(a));
    this.ingress(a).setLatency(ms, this.checked(b));
  }

  /**
   * RTT in ms of `region`'s outbound gateway connections as the server measured them (its own
   * pings), by remote region. This is what NATS orders queue-group delivery across gateways by.
   */
  gatewayRtts(region: string): Promise<Record<string, number>> {
    return outboundGatewayRtts(this.httpUrl(region), region);
  }

  /**
   * Wait until every running region is healthy (/healthz; with JetStream that includes contact
   * with the meta leader), has outbound gateways with a measured RTT and inbound gateways to and
   * from every other running region, and (with JetStream) is in the meta group (/jsz).
   */
  async waitReady(timeoutMs = this.timeoutMs): Promise<void> {
    const running = this.regions.filter((r) => this.isRunning(r));
    let pending = 'not checked yet';
    await waitUntil(
      async () => {
        for (const name of running) this.region(name).server.checkAlive();
        for (const name of running) {
          const problem = await gatewayReadinessProblem(this.httpUrl(name), name, running, this.jetstream);
          if (problem !== undefined) {
            pending = `${name}: ${problem}`;
            return false;
          }
        }
        return true;
      },
      { timeoutMs, intervalMs: 150, describe: () => `super-cluster not ready (${pending})\n${this.logTails(running)}` },
    );
  }

  /** Stop every server and proxy and remove the temp dir. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.byName.values()].map((r) => r.server.stop()));
    await Promise.all([...this.ingresses.values()].map((p) => p.close()));
    await rm(this.dir, { recursive: true, force: true });
    forgetDir(this.dir);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private logTails(names: readonly string[]): string {
    return names.map((n) => `--- ${n} log tail ---\n${this.region(n).server.logTail(15)}`).join('\n');
  }

  private region(name: string): Region {
    const r = this.byName.get(name);
    if (r === undefined) throw this.unknown(name);
    return r;
  }

  private checked(name: string): string {
    if (!this.byName.has(name)) throw this.unknown(name);
    return name;
  }

  private unknown(name: string): MeridianError {
    return new MeridianError(ErrorCode.BusUnknownRegion, `unknown region "${name}"`, { details: { region: name, regions: this.regions } });
  }
}

/** Start a super-cluster (same as `SuperCluster.start`). */
export async function startSuperCluster(options: SuperClusterOptions): Promise<SuperCluster> {
  // Free ports are found, closed, then bound by nats-server: on a busy machine another process
  // can take one in between. Such a start is retried with fresh ports (nothing else is).
  for (let attempt = 1; ; attempt++) {
    try {
      return await SuperCluster.start(options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String((err as Error).message))) throw err;
    }
  }
}
