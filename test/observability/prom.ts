// Reading Prometheus text expositions in tests, and `promtool check metrics` on them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The value of the series `name` whose labels include `labels` (summed over the rest); 0 if none. */
export function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const kv of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(kv[1]!, kv[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** Why promtool tests skip (undefined: it is here). With CI=true a missing promtool fails instead. */
export const promtoolMissing: string | undefined = PROMTOOL === undefined && process.env['CI'] !== 'true' ? 'promtool not found (Debian: apt-get install prometheus)' : undefined;

/** `promtool check metrics` on an exposition: its output and exit code. */
export function promtoolCheck(text: string): { code: number; output: string } {
  if (PROMTOOL === undefined) throw new Error('promtool is not installed (Debian: apt-get install prometheus); CI=true requires it');
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
