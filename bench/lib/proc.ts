/**
 * Processes for benches: each side of a measurement (server under test, load generator) runs in
 * its own process so no two share an event loop. A role process is the same bench file started
 * again with `--role <name>`; it reports readiness (its URL, say) with one IPC message and exits
 * when the parent disconnects, so nothing outlives a bench even when it crashes.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export interface Role<T> {
  readonly child: ChildProcess;
  /** The first IPC message the role sent (its URL, typically). */
  readonly ready: T;
  /** Ask the role something: send a message and wait for the next one it sends back. */
  ask<R>(message: unknown, timeoutMs?: number): Promise<R>;
  stop(): Promise<void>;
}

export interface ForkOptions {
  /** Extra node flags (e.g. `--expose-gc`). */
  readonly nodeFlags?: readonly string[];
  readonly timeoutMs?: number;
}

/**
 * Node flags for every role, from `MERIDIAN_BENCH_NODE_FLAGS` (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the servers (node refuses `--cpu-prof` in
 * NODE_OPTIONS).
 */
const envFlags = (process.env['MERIDIAN_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');

/** Start `file --role <role> ...args` with the tsx loader and wait for its first IPC message. */
export async function forkRole<T>(file: string, role: string, args: readonly string[] = [], opts: ForkOptions = {}): Promise<Role<T>> {
  const child = fork(file, ['--role', role, ...args], { execArgv: ['--import', 'tsx', ...envFlags, ...(opts.nodeFlags ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await withTimeout(once(child, 'message') as Promise<[T]>, opts.timeoutMs ?? 30_000, `role ${role} did not start`, () => child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  return {
    child,
    ready: ready[0],
    async ask<R>(message: unknown, timeoutMs = 120_000): Promise<R> {
      const answer = once(child, 'message') as Promise<[R]>;
      child.send(message as never);
      return (await withTimeout(answer, timeoutMs, `role ${role} did not answer`))[0];
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In a role process: exit when the parent goes away. */
export function exitWithParent(cleanup?: () => void | Promise<void>): void {
  process.once('disconnect', () => {
    void Promise.resolve(cleanup?.()).finally(() => process.exit(0));
  });
}

/** A non-node program (haproxy, wrk) run to completion; stdout returned. */
export async function runProgram(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await withTimeout(once(child, 'exit'), timeoutMs, `${file} did not finish`, () => child.kill('SIGKILL'))) as [number | null];
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${code}: ${err || out}`);
  return out;
}

/** A long-running non-node program (haproxy), stopped with SIGTERM (then SIGKILL). */
export function startProgram(file: string, args: readonly string[]): { child: ChildProcess; stop(): Promise<void> } {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = once(child, 'exit');
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Wait until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** USER_HZ; 100 on every Linux we run on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/** Listen on a free loopback port; resolves with the server's http:// base URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}
