/** The machine a run was measured on, for the report: cores, CPU, memory, Node, kernel, load. */
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';

export function machine(): string {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux: os.cpus() is good enough
  }
  const gib = (b: number): string => (b / 2 ** 30).toFixed(1);
  return `${cpus().length} cores (${model}), ${gib(totalmem())} GiB RAM (${gib(freemem())} free), Node ${process.version}, kernel ${release()}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}
