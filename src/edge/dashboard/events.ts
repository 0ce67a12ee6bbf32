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
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import { adminAuthorized, adminEnabled, forgedAdminRequest } from '../server/admin.js';
import type { EdgeContext } from '../server/context.js';
import { sendError } from '../../http/respond.js';
import { buildSnapshot } from './snapshot.js';
import { RegionStatsPoller } from './stats.js';
import { steeringPlaces } from './steering.js';
import type { Place } from './steering.js';

export const MAX_CLIENTS = 16;
export const TICK_MS = 500;
/** Reconnect delay the stream suggests to its reader. */
const RETRY_MS = 2000;

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
    if (req.method !== 'GET') return sendError(res, 405, ErrorCode.InvalidArgument, 'the dashboard feed takes GET', undefined, { allow: 'GET' });
    if (!adminAuthorized(this.ctx, req)) return sendError(res, 401, ErrorCode.EdgeUnauthorized, 'the dashboard feed needs Authorization: Bearer <admin token>', undefined, { 'www-authenticate': 'Bearer' });
    const forged = forgedAdminRequest(this.ctx, req, 'dashboard feed request', false);
    if (forged !== undefined) return sendError(res, 403, ErrorCode.EdgeOriginNotAllowed, forged);
    if (this.#clients.size >= MAX_CLIENTS) return sendError(res, 429, ErrorCode.EdgeRateLimited, `at most ${MAX_CLIENTS} dashboards at once`, undefined, { 'retry-after': '5' });
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
