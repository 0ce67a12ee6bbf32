/**
 * Real nats-server processes for tests (in the spirit of nats.js's `nst` helpers).
 *
 * `NatsServerProcess` runs one server from a config file, logs to a file, waits for /healthz and
 * stops it (SIGTERM, then SIGKILL). Every child is also SIGKILLed from a process 'exit' hook
 * (cleanup.ts), so a failed or interrupted test run leaves no orphan servers behind. `startNatsServer()` is the
 * one-call standalone server (random ports, temp dir, optional JetStream).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { NotAvailableError } from '../errors/mod.js';
import { forgetDir, killOnExit, removeOnExit } from './cleanup.js';
import { GiveUpError, isHealthy, waitUntil } from './monitor.js';
import { renderNatsConfig } from './nats-config.js';
import { freePorts } from './ports.js';

export const NATS_SERVER_INSTALL_HINT =
  'nats-server was not found: install it (Debian/Ubuntu: `apt-get install nats-server`) or set ' +
  'MERIDIAN_NATS_SERVER to the path of the binary.';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the nats-server binary: $MERIDIAN_NATS_SERVER, then PATH, then /usr/sbin. Null if none. */
export function findNatsServer(): string | null {
  const fromEnv = process.env['MERIDIAN_NATS_SERVER'];
  if (fromEnv !== undefined && fromEnv !== '') return isExecutable(fromEnv) ? fromEnv : null;
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...dirs, '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']) {
    const candidate = join(dir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Like `findNatsServer`, but throws `NotAvailableError` with an install hint when missing. */
export function requireNatsServer(): string {
  const found = findNatsServer();
  if (found === null) throw new NotAvailableError('nats-server', { details: { hint: NATS_SERVER_INSTALL_HINT } });
  return found;
}

export interface NatsServerProcessOptions {
  configFile: string;
  logFile: string;
  /** Monitoring base URL, e.g. http://127.0.0.1:8222, polled for /healthz. */
  httpUrl: string;
  /** Defaults to `requireNatsServer()`. */
  binary?: string;
}

/** One nats-server process, restartable with the same config (same ports, same store dir). */
export class NatsServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** How the last run ended, while not running. */
  private exitInfo: string | undefined;

  constructor(private readonly options: NatsServerProcessOptions) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last `lines` lines of the server log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Spawn the server and wait until it listens (its /healthz answers at all). Readiness beyond
   * that (JetStream, gateways) is the caller's to wait for; see `waitHealthy`.
   */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child !== undefined) return;
    const binary = this.options.binary ?? requireNatsServer();
    const log = openSync(this.options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(binary, ['-c', this.options.configFile], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log); // the child holds its own copy
    }
    killOnExit(child);
    this.child = child;
    this.exitInfo = undefined;
    this.exited = new Promise((resolve) => {
      const ended = (info: string): void => {
        this.exitInfo = info;
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.once('exit', (code, signal) => ended(`exited with ${signal ?? `code ${code}`}`));
      child.once('error', (err) => ended(`failed to spawn ${binary}: ${err.message}`));
    });
    await waitUntil(
      async () => {
        this.checkAlive();
        return (await fetch(new URL('/varz', this.options.httpUrl), { signal: AbortSignal.timeout(1000) })).ok;
      },
      { timeoutMs, describe: () => this.describe('monitoring endpoint to answer') },
    ).catch(async (err: unknown) => {
      await this.stop();
      throw err;
    });
  }

  /** Wait until /healthz says ok (with JetStream on, that includes contact with a meta leader). */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      () => {
        this.checkAlive();
        return isHealthy(this.options.httpUrl);
      },
      { timeoutMs, describe: () => this.describe('/healthz to be ok') },
    );
  }

  /** Throws `GiveUpError` (ends any wait at once) when the server is not running. */
  checkAlive(): void {
    if (this.child === undefined) {
      throw new GiveUpError(this.describe(this.exitInfo ?? 'is not running'));
    }
  }

  /** Stop: SIGTERM (or SIGKILL with `kill`), SIGKILL after `graceMs`; resolves once exited. */
  async stop(options: { kill?: boolean; graceMs?: number } = {}): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill(options.kill === true ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 5000);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private describe(what: string): string {
    return `nats-server (${this.options.configFile}) ${what}; log tail:\n${this.logTail()}`;
  }
}

export interface NatsServerOptions {
  /** Default true (store in the server's temp dir). */
  jetstream?: boolean;
  /** Server name; default "meridian-test". */
  name?: string;
}

/** A standalone test server with its own temp dir. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly httpUrl: string;
  readonly dir: string;
  readonly process: NatsServerProcess;
  /** Same ports and store dir, so JetStream state survives. */
  restart(): Promise<void>;
  /** Stop the server and remove its temp dir. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start one nats-server on random 127.0.0.1 ports and wait until it is healthy. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  // A free port can be taken by another process before nats-server binds it: retry with new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsServerOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String((err as Error).message))) throw err;
    }
  }
}

async function startNatsServerOnce(options: NatsServerOptions): Promise<NatsServer> {
  const binary = requireNatsServer();
  const dir = await mkdtemp(join(tmpdir(), 'meridian-nats-'));
  removeOnExit(dir);
  const [port, httpPort] = (await freePorts(2)) as [number, number];
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const configFile = join(dir, 'server.conf');
  const spec = { serverName: options.name ?? 'meridian-test', port, httpPort };
  const config = renderNatsConfig(options.jetstream === false ? spec : { ...spec, jetstreamStoreDir: join(dir, 'js') });
  await writeFile(configFile, config);
  const proc = new NatsServerProcess({ binary, configFile, logFile: join(dir, 'server.log'), httpUrl });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
    forgetDir(dir);
  };
  try {
    await proc.start();
    await proc.waitHealthy();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    httpUrl,
    dir,
    process: proc,
    restart: async () => {
      await proc.stop();
      await proc.start();
      await proc.waitHealthy();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
