/**
 * scripts/folder-cycles.mjs, the lint step that folds madge's file graph to src/ folders: run as
 * lint runs it, on small graphs written for each case.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '../../scripts/folder-cycles.mjs');

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-folder-cycles-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Run the script on `graph` (madge --json shape); exit code and both streams. */
async function check(graph: unknown): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, `g${++n}.json`);
  await writeFile(file, typeof graph === 'string' ? graph : JSON.stringify(graph));
  try {
    const r = await run(process.execPath, [SCRIPT, file]);
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe('folder-cycles', () => {
  it('passes a graph whose folders point one way', async () => {
    const r = await check({ 'node/server.ts': ['module/http-module.ts', 'node/ws.ts'], 'node/ws.ts': [], 'module/http-module.ts': ['keys/caller.ts'], 'keys/caller.ts': [] });
    expect(r.code).toBe(0);
    expect(r.out).toContain('no import cycle between the 3 folders');
  });

  it('fails a cycle between folders whose files never meet, naming the imports that make it', async () => {
    // node/a -> runtime/b and runtime/c -> node/d: no file cycle, a folder cycle.
    const r = await check({ 'node/a.ts': ['runtime/b.ts'], 'runtime/b.ts': [], 'runtime/c.ts': ['node/d.ts'], 'node/d.ts': [] });
    expect(r.code).toBe(1);
    expect(r.err).toContain('folder cycle: node, runtime');
    expect(r.err).toContain('node -> runtime: node/a.ts -> runtime/b.ts');
    expect(r.err).toContain('runtime -> node: runtime/c.ts -> node/d.ts');
  });

  it('folds nested folders into their top-level folder', async () => {
    const r = await check({ 'edge/server/x.ts': ['http/ip.ts'], 'http/ip.ts': ['edge/policy/y.ts'], 'edge/policy/y.ts': [] });
    expect(r.code).toBe(1);
    expect(r.err).toContain('folder cycle: edge, http');
  });

  it('keeps files directly in src/ apart: the entry point and a leaf do not tie folders together', async () => {
    const r = await check({ 'mod.ts': ['observability/metrics.ts'], 'observability/metrics.ts': ['version.ts'], 'version.ts': [] });
    expect(r.code).toBe(0);
  });

  it('reports every cycle of a larger graph, and only the edges inside each', async () => {
    const r = await check({ 'a/x.ts': ['b/x.ts', 'e/x.ts'], 'b/x.ts': ['a/y.ts'], 'a/y.ts': [], 'c/x.ts': ['d/x.ts'], 'd/x.ts': ['c/y.ts'], 'c/y.ts': [], 'e/x.ts': [] });
    expect(r.code).toBe(1);
    expect(r.err).toContain('folder cycle: a, b');
    expect(r.err).toContain('folder cycle: c, d');
    expect(r.err).not.toContain('a -> e');
  });

  it('refuses input that is not a madge graph', async () => {
    for (const bad of ['', 'not json', '[]', '{}', 'null']) {
      const r = await check(bad);
      expect(r.code, JSON.stringify(bad)).toBe(1);
      expect(r.err).toContain("cannot read madge's graph");
    }
  });
});
