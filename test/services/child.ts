/** Start the fixture worker as a real child process (tsx loader) and wait until it registered. */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TOKEN } from './mesh-env.js';

export interface ChildWorker {
  readonly proc: ChildProcess;
  readonly id: string;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

export async function startChildWorker(node: string, id: string, region?: string): Promise<ChildWorker> {
  const proc = fork(fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_URL: node, TOKEN, ID: id, ...(region !== undefined ? { REGION: region } : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker ${id} did not start in 20 s`)), 20_000);
    proc.once('message', () => {
      clearTimeout(t);
      resolve();
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`worker ${id} exited with ${code} before it registered`));
    });
  });
  return { proc, id, exited, kill: (s) => void proc.kill(s) };
}
