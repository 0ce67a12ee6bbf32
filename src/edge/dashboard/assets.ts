/**
 * The dashboard's static files (static/: index.html, dashboard.css, dashboard.js, world.svg,
 * favicon.svg), read once from next to this module and kept in memory. They are plain files,
 * readable in the source tree and served as they are: no bundler, no build step at runtime. `npm run build`
 * copies static/ next to the compiled module, so the same lookup works from src (tsx, vitest)
 * and from dist (the published package).
 *
 * Every answer carries a strict Content-Security-Policy (this origin only, nothing inline, no
 * frames): the page holds an admin token, so no other script may ever run in it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** URL path under /dashboard → file in static/ and its type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/world.svg': { file: 'world.svg', type: 'image/svg+xml' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const STATIC_DIR = new URL('./static/', import.meta.url);
const cache = new Map<string, Promise<Asset>>();

function load(file: string, type: string): Promise<Asset> {
  let p = cache.get(file);
  if (p === undefined) {
    p = readFile(new URL(file, STATIC_DIR)).then((body) => ({ body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` }));
    // A failed read (a broken install) is retried on the next request rather than cached.
    p.catch(() => cache.delete(file));
    cache.set(file, p);
  }
  return p;
}

/** Serves `/dashboard` + `sub`; false when `sub` names no asset (the caller answers 404). */
export async function serveAsset(req: IncomingMessage, res: ServerResponse, sub: string): Promise<boolean> {
  const entry = FILES[sub];
  if (entry === undefined) return false;
  const asset = await load(entry.file, entry.type);
  const headers = {
    'content-type': asset.type,
    'cache-control': 'no-cache',
    etag: asset.etag,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}
