/**
 * Last-resort cleanup when the test process exits without closing what it started (a failed
 * hook, an interrupted run, `process.exit()` in a worker): server processes are SIGKILLed and
 * temp dirs removed from a process 'exit' hook, so no orphan nats-server survives vitest.
 * Only synchronous work is possible there, hence `kill` and `rmSync`.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const child of children) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: the process is exiting anyway
      }
    }
  });
}

/** Kill `child` on process exit if it still runs then. */
export function killOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Remove `dir` on process exit unless `forgetDir(dir)` was called (after a normal cleanup). */
export function removeOnExit(dir: string): void {
  install();
  dirs.add(dir);
}

export function forgetDir(dir: string): void {
  dirs.delete(dir);
}
