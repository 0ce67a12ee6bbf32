/**
 * Structured logs: one JSON line per significant event (region state changes, failovers,
 * drains, auth failures, bus status), with pino. Every line carries `region`/`node` (or
 * `component: "edge"`), an `event` name, and the trace ids when the event happened inside a
 * traced operation. Level: `--log-level`, else env `MERIDIAN_LOG_LEVEL`, else `info`.
 *
 * Lines go to stderr by default (stdout carries `meridian up --json`'s one line), synchronously
 * so they are not lost at exit.
 */
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { ErrorCode, MeridianError } from '../errors/mod.js';

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

/** Set the level of loggers created without one (the CLI calls this once from its flag). */
export function setDefaultLogLevel(level: LogLevel): void {
  defaultLevel = level;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? defaultLevel ?? resolveLogLevel(undefined);
  const dest = opts.destination ?? pino.destination({ fd: 2, sync: true });
  return pino({ level, base: { ...opts.base }, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, dest);
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
