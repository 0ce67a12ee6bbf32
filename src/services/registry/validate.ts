/**
 * Validation of worker registrations and heartbeats. Every problem is collected, with the path
 * of the offending field, and reported at once in one `SVC_INVALID_REGISTRATION` error: a worker
 * fixing its config should not have to discover mistakes one round trip at a time.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { WorkerLoad, WorkerRecord, WorkerRegistration } from './types.js';

export interface Problem {
  /** Where, e.g. `services[1].url`. */
  readonly path: string;
  readonly message: string;
}

export interface ValidationContext {
  /** Known regions; when given, the worker's region must be one of them. */
  readonly regions?: readonly string[] | undefined;
  /** Function catalogue; when given, every declared function must be in it. */
  readonly functions?: readonly string[] | undefined;
}

// Ids are KV keys as they are (no encoding), so they use the KV key alphabet minus `.` `=` `/`.
const WORKER_ID = /^[A-Za-z0-9_-]{1,128}$/;
// Service names end up in URL paths (/service/<name>/...) and subjects: keep them plain.
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_WEIGHT = 1000;
const MAX_META = 32;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkUrl(raw: unknown, path: string, out: Problem[], exact = false): void {
  if (typeof raw !== 'string') return void out.push({ path, message: 'must be a URL string' });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return void out.push({ path, message: `${JSON.stringify(raw)} is not a valid URL` });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') out.push({ path, message: `scheme ${url.protocol.slice(0, -1)} is not allowed: only http and https` });
  // Credentials in a registered URL would be shown to every region and in every listing.
  if (url.username !== '' || url.password !== '') out.push({ path, message: 'must not contain credentials (user:password@)' });
  if (url.hostname === '') out.push({ path, message: 'must name a host' });
  if (url.hash !== '' || (url.search !== '' && !exact)) out.push({ path, message: exact ? 'must not have a fragment' : 'must not have a query or fragment: it is a base URL' });
}

function checkMeta(meta: unknown, path: string, out: Problem[]): void {
  if (meta === undefined) return;
  if (!isObject(meta)) return void out.push({ path, message: 'must be an object of strings' });
  const entries = Object.entries(meta);
  if (entries.length > MAX_META) out.push({ path, message: `at most ${MAX_META} entries` });
  for (const [k, v] of entries) if (typeof v !== 'string') out.push({ path: `${path}.${k}`, message: 'must be a string' });
}

/** All problems of a registration; empty when it is valid. */
/** Whether `id` is a worker id a registration may carry. */
export function isWorkerId(id: string): boolean {
  return WORKER_ID.test(id);
}

export function registrationProblems(reg: unknown, ctx: ValidationContext = {}): Problem[] {
  const out: Problem[] = [];
  if (!isObject(reg)) return [{ path: '', message: 'a registration must be an object' }];
  const { id, region, services, functions } = reg;
  if (typeof id !== 'string' || !WORKER_ID.test(id)) out.push({ path: 'id', message: '1-128 characters of [A-Za-z0-9_-]' });
  if (typeof region !== 'string' || region === '') out.push({ path: 'region', message: 'must be a region name' });
  else if (ctx.regions && !ctx.regions.includes(region)) out.push({ path: 'region', message: `unknown region ${JSON.stringify(region)}; known: ${ctx.regions.join(', ')}` });
  const hasFunctions = Array.isArray(functions) && functions.length > 0;
  if (!Array.isArray(services) || (services.length === 0 && !hasFunctions)) {
    out.push({ path: 'services', message: 'must list at least one service (or at least one function)' });
  } else {
    const seen = new Set<string>();
    services.forEach((s: unknown, i) => {
      const p = `services[${i}]`;
      if (!isObject(s)) return void out.push({ path: p, message: 'must be an object { name, url, weight?, meta? }' });
      if (typeof s['name'] !== 'string' || !SERVICE_NAME.test(s['name'])) {
        out.push({ path: `${p}.name`, message: '1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit' });
      } else if (seen.has(s['name'])) {
        out.push({ path: `${p}.name`, message: `duplicate service name ${JSON.stringify(s['name'])}` });
      } else {
        seen.add(s['name']);
      }
      checkUrl(s['url'], `${p}.url`, out);
      const w = s['weight'];
      if (w !== undefined && (typeof w !== 'number' || !Number.isFinite(w) || w <= 0 || w > MAX_WEIGHT)) {
        out.push({ path: `${p}.weight`, message: `must be a number > 0 and <= ${MAX_WEIGHT}` });
      }
      checkMeta(s['meta'], `${p}.meta`, out);
    });
  }
  if (functions !== undefined) {
    if (!Array.isArray(functions)) {
      out.push({ path: 'functions', message: 'must be a list of { name }' });
    } else {
      const seen = new Set<string>();
      functions.forEach((f: unknown, i) => {
        const name = isObject(f) ? f['name'] : undefined;
        const p = `functions[${i}].name`;
        if (isObject(f) && f['url'] !== undefined) checkUrl(f['url'], `functions[${i}].url`, out, true);
        if (typeof name !== 'string' || !SERVICE_NAME.test(name)) return void out.push({ path: p, message: 'must be a function name' });
        if (seen.has(name)) out.push({ path: p, message: `duplicate function ${JSON.stringify(name)}` });
        else if (ctx.functions && !ctx.functions.includes(name)) out.push({ path: p, message: `unknown function ${JSON.stringify(name)}: not in the function catalogue` });
        seen.add(name);
      });
    }
  }
  return out;
}

export function loadProblems(load: unknown): Problem[] {
  const out: Problem[] = [];
  if (!isObject(load)) return [{ path: 'load', message: 'must be an object { inFlight, metrics? }' }];
  const n = load['inFlight'];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) out.push({ path: 'load.inFlight', message: 'must be an integer >= 0' });
  const m = load['metrics'];
  if (m !== undefined) {
    if (!isObject(m)) out.push({ path: 'load.metrics', message: 'must be an object of numbers' });
    else for (const [k, v] of Object.entries(m)) if (typeof v !== 'number' || !Number.isFinite(v)) out.push({ path: `load.metrics.${k}`, message: 'must be a finite number' });
  }
  return out;
}

export function invalid(what: string, problems: readonly Problem[]): MeridianError {
  const list = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
  return new MeridianError(ErrorCode.SvcInvalidRegistration, `invalid ${what}: ${list}`, { details: { problems } });
}

/** Throws with every problem, or returns the registration typed. */
export function assertRegistration(reg: unknown, ctx: ValidationContext = {}): WorkerRegistration {
  const problems = registrationProblems(reg, ctx);
  if (problems.length > 0) throw invalid('registration', problems);
  return reg as WorkerRegistration;
}

export function assertLoad(load: unknown): WorkerLoad {
  const problems = loadProblems(load);
  if (problems.length > 0) throw invalid('heartbeat', problems);
  return load as WorkerLoad;
}

/** Function name → URL for the functions a registration serves over HTTP. */
export function functionUrls(reg: WorkerRegistration): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of reg.functions ?? []) if (f.url !== undefined) out[f.name] = f.url;
  return out;
}

/** Normalise a valid registration into the stored services list (defaults filled in). */
export function normaliseServices(reg: WorkerRegistration): WorkerRecord['services'] {
  return reg.services.map((s) => ({ name: s.name, url: s.url, weight: s.weight ?? 1, meta: { ...(s.meta ?? {}) } }));
}
