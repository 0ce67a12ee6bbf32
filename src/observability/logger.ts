/**
 * Structured logs: one JSON line per significant event (region state changes, failovers,
 * drains, auth failures, bus status), with pino. Every line carries `region`/`node` (or
 * `component: "edge"`), an `event` name, and the trace ids when the event happened inside a
 * traced operation. Level: `--log-level`, else env `MERIDIAN_LOG_LEVEL`, else `info`.
 *
 * Trace ids: a line about a traced operation gets `traceId`/`spanId` from its caller, which
 * passes its context explicitly (src/observability/tracing.ts: Meridian never reads the active
 * context across awaits). Any other line logged inside an active span of the application (with a
 * context manager registered) gets that span's ids from the mixin below; the caller's win.
 *
 * Lines go to stderr by default (stdout carries `meridian up --json`'s one line), synchronously
 * so they are not lost at exit.
 */
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { activeContext, traceFields } from './tracing.js';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** The level from a flag, else MERIDIAN_LOG_LEVEL, else `info`; an unknown name is an error. */
export function resolveLogLevel(flag?: string, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = (flag ?? env['MERIDIAN_LOG_LEVEL'] ?? 'info').trim().toLowerCase();
  if (!isLogLevel(v)) throw new MeridianError(ErrorCode.InvalidArgument, `log level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(v)}`);
  return v;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; default stderr (fd 2), synchronous. */
  readonly destination?: DestinationStream;
  /** Fields on every line. */
  readonly base?: Record<string, unknown>;
}

let defaultLevel: LogLevel | undefined;
let defaultDestination: DestinationStream | undefined;

/** Set the level of loggers created without one (the CLI calls this once from its flag). */
export function setDefaultLogLevel(level: LogLevel): void {
  defaultLevel = level;
}

/**
 * Where loggers created without a destination write (undefined: stderr again). For a process
 * that wants every component's lines in one stream, e.g. a test reading the nodes' and the edge's.
 */
export function setDefaultLogDestination(dest: DestinationStream | undefined): void {
  defaultDestination = dest;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? defaultLevel ?? resolveLogLevel(undefined);
  const dest = opts.destination ?? defaultDestination ?? pino.destination({ fd: 2, sync: true });
  return pino({ level, base: { ...opts.base }, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg', mixin: activeTraceFields }, dest);
}

/** The active span's ids (an application's span, with a context manager), else nothing. */
function activeTraceFields(): { traceId?: string; spanId?: string } {
  return traceFields(activeContext());
}

/** A logger that writes nothing (tests that do not look at logs, benches). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * `--log-level` of the CLI commands: sets the default level of every logger made afterwards
 * (flag, else MERIDIAN_LOG_LEVEL, else info). Returns the problem with the value, or undefined.
 */
export function applyLogLevel(flag: string | undefined): string | undefined {
  try {
    setDefaultLogLevel(resolveLogLevel(flag));
    return undefined;
  } catch (err) {
    return `--log-level: ${(err as Error).message}`;
  }
}
