/**
 * What `meridian plan` produces and what its generators share.
 *
 * A generator turns the topology (and the shared inventory of hosts) into files. It is pure apart
 * from secrets: same topology and same `Secrets` in, same files out. Files marked `secret` are
 * written 0600 and never printed.
 */
import type { Topology } from '../topology/mod.js';

export type PlanTarget = 'nats' | 'vpn' | 'k8s' | 'haproxy' | 'cloudflare';
export const PLAN_TARGETS: readonly PlanTarget[] = ['nats', 'vpn', 'k8s', 'haproxy', 'cloudflare'];

export interface PlannedFile {
  /** Relative to the output directory, '/' separated (e.g. `nats/us-east-0.conf`). */
  readonly path: string;
  readonly content: string | Uint8Array;
  /** Keys, credentials, seeds: written 0600, never printed. */
  readonly secret?: boolean;
  /** One line for the README in the output directory: what it is and where it goes. */
  readonly about?: string;
}

/** A topology that cannot be planned: where (a path into meridian.yaml) and why. */
export interface PlanProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * `lighthouse`, `nats`, `node`: a region's hosts. `ops` (where operators run `meridian doctor` and
 * scrape metrics) and `edge` (haproxy or `meridian edge`): on the mesh but in no region.
 */
export type HostRole = 'nats' | 'node' | 'lighthouse' | 'ops' | 'edge';

/** One machine (or pod) of the deployment. */
export interface PlanHost {
  /** Stable, unique: `<region>-<role>-<index>` (e.g. `us-east-nats-0`); `ops-<n>`, `edge-<n>` outside regions. */
  readonly name: string;
  /** The region; '' for the ops and edge hosts, which belong to none. */
  readonly region: string;
  readonly role: HostRole;
  /** 0-based within (region, role). */
  readonly index: number;
  /** Address on the VPN overlay (Nebula); never reused, deterministic from the topology. */
  readonly overlayIp: string;
  /**
   * Where other hosts reach it: the overlay IP when a VPN is planned, else `deploy.hosts[region]`
   * (or `<name>.<region>.internal`). In `--local` mode, 127.0.0.1.
   */
  readonly address: string;
}

export interface RegionPlan {
  readonly name: string;
  /** The region's overlay CIDR (e.g. 10.77.1.0/24). */
  readonly cidr: string;
  readonly hosts: readonly PlanHost[];
}

export interface Inventory {
  readonly regions: readonly RegionPlan[];
  /** Every host: the regions' (in order), then the ops and edge hosts (with a VPN only). */
  readonly hosts: readonly PlanHost[];
}

/** Generated key material, made once per plan and shared by the generators that need it. */
export interface Secrets {
  /** Memoized by name: the same name gives the same value within one plan. */
  get<T>(name: string, make: () => T): T;
}

export interface PlanContext {
  readonly topology: Topology;
  readonly inventory: Inventory;
  readonly secrets: Secrets;
  /** Render for one machine: every host on 127.0.0.1 with free ports (tests, trying it out). */
  readonly local?: LocalPorts;
  /** Output directory (absolute), for configs that must name their own files (stores, certs). */
  readonly outDir: string;
}

/** `--local`: the port each host's listener gets on 127.0.0.1. */
export interface LocalPorts {
  port(host: string, listener: string): number;
}

export type Generator = (ctx: PlanContext) => Promise<PlannedFile[]> | PlannedFile[];
