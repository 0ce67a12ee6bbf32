/**
 * `GET /dashboard/events`: the dashboard's live feed, Server-Sent Events carrying one `snapshot`
 * event every 500 ms and one at once when a region's health changes (so a region taken down shows
 * as soon as the monitor decides, not up to a tick later).
 *
 * The stream is operational data, so it is behind the admin protection: the same bearer token as
 * `/v1/admin/*` (or open with devAdmin, as admin is, to loopback Hosts only), same-origin only,
 * and 404 when admin is off altogether. The
 * page sends the token in the Authorization header through fetch() rather than EventSource, which
 * cannot set headers and would put the token in URLs and access logs.
 *
 * Bounded: at most MAX_CLIENTS streams (429 beyond), each removed when its socket closes; /stats
 * polling runs only while at least one stream is open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import type { EdgeContext } from '../server/context.js';
import { sendError } from '../server/respond.js';
import { buildSnapshot } from './snapshot.js';
import { RegionStatsPoller } from './stats.js';
import { steeringPlaces } from './steering.js';
import type { Place } from './steering.js';

export const MAX_CLIENTS = 16;
export const TICK_MS = 500;
/** Reconnect delay the stream suggests to its reader. */
const RETRY_MS = 2000;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Admin enabled at all: a token is configured, or devAdmin is on. */
export function adminEnabled(ctx: EdgeContext): boolean {
  return (ctx.options.adminToken !== undefined && ctx.options.adminToken !== '') || ctx.options.devAdmin === true;
}

/** The admin endpoints' rule (server/admin.ts): `Authorization: Bearer <adminToken>`, constant time. */
export function adminAuthorized(ctx: EdgeContext, req: IncomingMessage): boolean {
  const token = ctx.options.adminToken;
  if (token === undefined || token === '') return ctx.options.devAdmin === true;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1] !== undefined && timingSafeEqual(digest(m[1]), digest(token));
}

/**
 * Why a feed request looks like it comes from another site, if it does. The dashboard is a
 * same-origin page, so any Origin but this Host is refused (even where CORS would allow it); with
 * devAdmin, where no token protects the feed, the Host must be a loopback name too, so a page on
 * a DNS-rebound name cannot read it (the admin endpoints keep the same rules).
 */
export function crossSiteFeed(ctx: EdgeContext, req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = origin === 'null' ? undefined : new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost !== host) return `the dashboard feed is not served to other origins (${origin.slice(0, 100)})`;
  }
  if (ctx.options.adminToken === undefined || ctx.options.adminToken === '') {
    const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
    if (!(name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name))) return `without an admin token the dashboard feed answers only a loopback Host, not ${host.slice(0, 100)}`;
  }
  return undefined;
}

export class DashboardEvents {
  readonly #clients = new Set<ServerResponse>();
  readonly #stats: RegionStatsPoller;
  readonly #places: readonly Place[];
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly ctx: EdgeContext) {
    this.#stats = new RegionStatsPoller(ctx.urls, ctx.options.clock ?? Date.now);
    this.#places = steeringPlaces(ctx);
  }

  get clients(): number {
    return this.#clients.size;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    if (!adminEnabled(this.ctx)) return sendError(res, 404, ErrorCode.EdgeNotFound, 'the dashboard feed needs admin enabled on the edge (an admin token)');
    if (req.method !== 'GET') return sendError(res, 405, ErrorCode.InvalidArgument, 'the dashboard feed takes GET', { allow: 'GET' });
    if (!adminAuthorized(this.ctx, req)) return sendError(res, 401, ErrorCode.EdgeUnauthorized, 'the dashboard feed needs Authorization: Bearer <admin token>', { 'www-authenticate': 'Bearer' });
    const forged = crossSiteFeed(this.ctx, req);
    if (forged !== undefined) return sendError(res, 403, ErrorCode.EdgeOriginNotAllowed, forged);
    if (this.#clients.size >= MAX_CLIENTS) return sendError(res, 429, ErrorCode.EdgeRateLimited, `at most ${MAX_CLIENTS} dashboards at once`, { 'retry-after': '5' });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.#clients.add(res);
    const drop = (): void => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stopTicking();
    };
    res.on('close', drop);
    req.on('close', drop);
    this.#startTicking();
    this.#send(res, this.#frame());
  }

  /** End every stream and stop polling (the edge is closing). */
  close(): void {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#stopTicking();
  }

  #frame(): string {
    const snapshot = buildSnapshot(this.ctx, this.#stats, this.#places, (this.ctx.options.clock ?? Date.now)());
    return `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
  }

  #send(res: ServerResponse, frame: string): void {
    // A dashboard that cannot keep up gets the next frame instead of a growing queue.
    if (res.writableNeedDrain) return;
    res.write(frame);
  }

  #broadcast(): void {
    if (this.#clients.size === 0) return;
    const frame = this.#frame();
    for (const res of this.#clients) this.#send(res, frame);
  }

  #startTicking(): void {
    if (this.#timer !== undefined) return;
    this.#stats.start();
    this.#timer = setInterval(() => this.#broadcast(), TICK_MS);
    this.#timer.unref();
    this.#unsubscribe = this.ctx.monitor.subscribe(() => this.#broadcast());
  }

  #stopTicking(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#stats.stop();
  }
}
