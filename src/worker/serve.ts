/**
 * `serve()`: one worker process (or in-process worker) in the mesh. It serves its HTTP services
 * and CloudEvents functions on a small node:http server, registers with a region node (its own
 * region's, failing over to the other nodes it was given: remote.ts), heartbeats with its live
 * in-flight count, re-registers when the registry evicted it, and on SIGTERM deregisters first
 * (so no node picks it any more), then drains in-flight requests and exits.
 *
 *   /svc/<name>/...   a service (the handler sees the path below the service)
 *   /fn/<name>        a function (binary-mode CloudEvent in, CloudEvent out)
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { LocalHandler, ServicesModule } from '../services/mod.js';
import { runFunction } from './events.js';
import type { FunctionHandler, ServeOptions, ServiceEntry, ServiceHandler, Worker } from './types.js';
import { registerRemote } from './remote.js';

interface Registration {
  id: string;
  region?: string;
  services: Array<{ name: string; url: string; weight?: number; meta?: Readonly<Record<string, string>> }>;
  functions: Array<{ name: string; url?: string }>;
}

const handlerOf = (e: ServiceEntry): ServiceHandler | undefined => (typeof e === 'function' ? e : 'handler' in e ? e.handler : undefined);

/** The node URLs of `opts.node`, or undefined for an in-process worker. */
function nodeUrls(node: ServeOptions['node']): readonly string[] | undefined {
  if (typeof node === 'string') return [node];
  return Array.isArray(node) ? (node as readonly string[]) : undefined;
}

/** Why these options cannot start a remote worker, or undefined. */
function remoteProblem(opts: ServeOptions, urls: readonly string[]): string | undefined {
  if (urls.length === 0) return 'serve(): node must name at least one region node URL';
  if (urls.some((u) => typeof u !== 'string' || !URL.canParse(u))) return 'serve(): every node must be an http(s) URL';
  if (opts.token === undefined) return 'serve(): token is required when node is a URL (the workerToken of meridian up)';
  if (urls.length > 1 && opts.region === undefined) return 'serve(): region is required with several nodes (a fallback node must not register the worker in its own region)';
  return undefined;
}

export async function serve(opts: ServeOptions): Promise<Worker> {
  const id = opts.id ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 60)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const services = opts.services ?? {};
  const functions = opts.functions ?? {};
  const urls = nodeUrls(opts.node);
  const inProcess = urls === undefined;
  const served = new Map<string, ServiceHandler>();
  for (const [name, e] of Object.entries(services)) {
    const h = handlerOf(e);
    if (h) served.set(name, h);
  }
  let inFlight = 0;
  const needHttp = served.size > 0 || (!inProcess && Object.keys(functions).length > 0);
  let server: Server | undefined;
  let base: string | undefined;
  if (needHttp) {
    server = createServer((req, res) => {
      inFlight++;
      res.once('close', () => inFlight--);
      void route(req, res, served, functions, id);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    base = (opts.advertiseUrl ?? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`).replace(/\/+$/, '');
  }
  const reg: Registration = {
    id,
    ...(opts.region !== undefined ? { region: opts.region } : {}),
    services: Object.entries(services).map(([name, e]) => {
      const extra = typeof e === 'function' ? {} : { ...(e.weight !== undefined ? { weight: e.weight } : {}), ...(e.meta !== undefined ? { meta: e.meta } : {}) };
      const url = typeof e !== 'function' && 'url' in e ? e.url : `${base}/svc/${encodeURIComponent(name)}`;
      return { name, url, ...extra };
    }),
    functions: Object.keys(functions).map((name) => (inProcess ? { name } : { name, url: `${base}/fn/${encodeURIComponent(name)}` })),
  };

  const stopServer = async (): Promise<void> => {
    if (!server) return;
    const s = server;
    const closed = new Promise<void>((r) => s.close(() => r()));
    const until = Date.now() + (opts.drainTimeoutMs ?? 10_000);
    while (inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    s.closeAllConnections();
    await closed;
  };

  let worker: Worker;
  if (urls === undefined) {
    worker = await inProcessWorker(opts.node as ServicesModule, reg, functions, () => inFlight, stopServer);
  } else {
    const problem = remoteProblem(opts, urls);
    if (problem !== undefined) {
      await stopServer();
      throw new TypeError(problem);
    }
    let remote;
    try {
      remote = await registerRemote(reg, {
        urls,
        token: opts.token!,
        requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
        load: () => ({ inFlight, metrics: opts.metrics?.() ?? {} }),
        onError: (err) => opts.onError?.(err),
      });
    } catch (err) {
      await stopServer();
      throw err;
    }
    let closing: Promise<void> | undefined;
    const r = remote;
    worker = {
      id,
      region: r.region,
      url: base,
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      get node() {
        return r.node;
      },
      get inFlight() {
        return inFlight;
      },
      close() {
        closing ??= (async () => {
          await r.close();
          await stopServer();
        })();
        return closing;
      },
    };
  }
  if (opts.handleSignals ?? true) watchSignals(worker);
  return worker;
}

// One handler for every worker of the process: on SIGTERM/SIGINT all of them deregister and
// drain, then the process exits (several handlers would each exit after their own worker).
const signalled = new Set<Worker>();
let installed = false;
function watchSignals(worker: Worker): void {
  signalled.add(worker);
  const close = worker.close.bind(worker);
  (worker as { close: () => Promise<void> }).close = () => {
    signalled.delete(worker);
    return close();
  };
  if (installed) return;
  installed = true;
  const onSignal = (): void => {
    void Promise.allSettled([...signalled].map((w) => w.close())).finally(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

async function inProcessWorker(node: ServicesModule, reg: Registration, functions: Readonly<Record<string, FunctionHandler>>, load: () => number, stopServer: () => Promise<void>): Promise<Worker> {
  let local = 0;
  const handlers = new Map<string, LocalHandler>();
  for (const [name, fn] of Object.entries(functions)) {
    handlers.set(name, async (req) => {
      local++;
      try {
        return await runFunction(fn, { ...req.headers }, req.body, reg.id);
      } finally {
        local--;
      }
    });
  }
  const attached = await node.attachInProcess({ id: reg.id, functions: handlers, services: reg.services });
  let closing: Promise<void> | undefined;
  return {
    id: reg.id,
    region: node.region,
    url: reg.services.length > 0 ? reg.services[0]!.url.replace(/\/svc\/[^/]*$/, '') : undefined,
    heartbeatIntervalMs: attached.lease.heartbeatIntervalMs,
    node: undefined,
    get inFlight() {
      return load() + local;
    },
    close() {
      closing ??= (async () => {
        await attached.detach();
        const until = Date.now() + 10_000;
        while (local > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        await stopServer();
      })();
      return closing;
    },
  };
}

async function route(req: IncomingMessage, res: ServerResponse, services: ReadonlyMap<string, ServiceHandler>, functions: Readonly<Record<string, FunctionHandler>>, id: string): Promise<void> {
  const url = req.url ?? '/';
  const m = /^\/(svc|fn)\/([^/?]+)(.*)$/.exec(url);
  const kind = m?.[1];
  const name = m ? decodeURIComponent(m[2]!) : '';
  try {
    if (kind === 'svc' && services.has(name)) {
      const rest = m![3]!;
      req.url = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
      await services.get(name)!(req, res);
      return;
    }
    const fn = kind === 'fn' ? functions[name] : undefined;
    if (fn && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const out = await runFunction(fn, headers, Buffer.concat(chunks), id);
      res.writeHead(out.status, { ...out.headers, 'content-length': out.body.length });
      res.end(out.body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`worker ${id}: nothing at ${url}`);
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(err instanceof Error ? err.message : String(err));
    else res.destroy();
  }
}
