/** What a CLI subcommand is, and the small argument helpers they share. */
import { isLoopbackHost } from '../http/host.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

/** A listen address only this machine can reach (127.0.0.0/8, ::1, localhost); default 127.0.0.1. */
export function isLoopbackListen(host: string | undefined): boolean {
  return isLoopbackHost(host ?? '127.0.0.1');
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Run an argument parser (node:util parseArgs), turning its errors into a UsageError naming the command. */
export function usageGuard<R>(command: string, parse: () => R): R {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(`meridian ${command}: ${(err as Error).message}`);
  }
}
