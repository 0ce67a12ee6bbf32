/**
 * The edge's dashboard at `/dashboard`: a world map of the regions with their health, load, SLO,
 * the flows between them and the edge's steering, with buttons that call the admin endpoints.
 * The page is public and read-only; its live feed (`/dashboard/events`) and the buttons need the
 * admin token. The server only routes here; assets.ts serves the page, events.ts the feed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import type { EdgeContext } from '../server/context.js';
import { sendError } from '../../http/respond.js';
import { serveAsset } from './assets.js';
import { DashboardEvents } from './events.js';

export const DASHBOARD_PATH = '/dashboard';

export class Dashboard {
  readonly #events: DashboardEvents;

  constructor(ctx: EdgeContext) {
    this.#events = new DashboardEvents(ctx);
  }

  /** Whether `path` is the dashboard's (`/dashboard`, `/dashboard/…`). */
  static owns(path: string): boolean {
    return path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const sub = path.slice(DASHBOARD_PATH.length);
    if (sub === '/events') return this.#events.handle(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, ErrorCode.InvalidArgument, 'the dashboard takes GET', undefined, { allow: 'GET, HEAD' });
    if (!(await serveAsset(req, res, sub))) sendError(res, 404, ErrorCode.EdgeNotFound, 'no such dashboard file');
  }

  /** Open live feeds (for tests and limits). */
  get feeds(): number {
    return this.#events.clients;
  }

  close(): void {
    this.#events.close();
  }
}
