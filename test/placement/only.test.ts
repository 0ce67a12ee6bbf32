/**
 * The placement module (src/placement) is the only place that names a KV bucket or a JetStream
 * stream, or chooses the region that holds one: everything else opens what it is given with
 * `openKv`. This reads the source to show it, so a new `bus.kv('mrd-…', { region: … })` anywhere
 * else fails here. The bus implementations (src/bus) are exempt: they are what `openKv` calls.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Code only: comments may name buckets when they explain them. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.kv\(/, 'opens a KV bucket itself (use openKv with a Place from src/placement)'],
  [/\bbuckets\.name\(/, 'names a KV bucket (src/placement names them)'],
  [/\bstreams\.(log|logHead)\(/, 'names a log stream (src/placement names them)'],
  [/['"`]mrd-(?!(region|epoch|event)['"`])[a-z]/, 'spells a bucket name'],
  [/['"`](MRD_LOG|KV_mrd)/, 'spells a stream name'],
  [/\b(bucketRegion|home|region)\b\W.*regions\[0\]/, 'places state in the first region of the topology'],
];

const EXEMPT = ['src/placement/', 'src/bus/'];

describe('placement is decided in one module', () => {
  const offenders: string[] = [];
  for (const f of files(SRC)) {
    const rel = relative(ROOT, f);
    if (EXEMPT.some((e) => rel.startsWith(e))) continue;
    const lines = code(readFileSync(f, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const [re, what] of RULES) if (re.test(line)) offenders.push(`${rel}:${i + 1} ${what}: ${line.trim()}`);
    });
  }

  it('no module outside src/placement names, opens or places a bucket or stream, or gives the first region a role', () => {
    expect(offenders).toEqual([]);
  });

  it('the rules catch what they are meant to catch', () => {
    const caught = (src: string): boolean => code(src).split('\n').some((l) => RULES.some(([re]) => re.test(l)));
    expect(caught("const kv = await bus.kv('mrd-homes', { region: first });")).toBe(true);
    expect(caught('const home = topo.regions[0]!.name;')).toBe(true);
    expect(caught('registry.open({ home: topo.regions[0]!.name })')).toBe(true);
    expect(caught("const s = streams.log('x');")).toBe(true);
    expect(caught('// the old mrd-homes bucket: gone')).toBe(false);
    expect(caught("const kv = await openKv(bus, placed.inbox(region));")).toBe(false);
  });
});
