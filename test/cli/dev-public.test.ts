// Dev auth (anyone may connect as any user) is refused on a non-loopback listen address unless
// --dev-public says so explicitly; --dev-admin likewise never leaves loopback. With --dev-public
// the processes do start there, and say on stderr what they expose.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { eventually } from '../node/client.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-dev-public-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(argv, { out: () => undefined, err: (s) => (err += s) });
  return { code, err };
}

/** Run the CLI as a real process until `ready` shows in its output, then SIGTERM it and return what it printed. */
async function startAndStop(argv: string[], ready: (out: string, err: string) => boolean, check: (out: string, err: string) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await eventually(() => ready(out, err) || child.exitCode !== null, 'the process to be ready', 40_000);
    expect(child.exitCode, err).toBeNull();
    await check(out, err);
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

describe('dev mode stays on this machine unless asked', () => {
  it('refuses meridian up --host 0.0.0.0 without --dev-public', async () => {
    const r = await run(['up', '--host', '0.0.0.0', '--port-base', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--dev-public');
  });

  it('refuses meridian region --dev on a public address without --dev-public', async () => {
    const r = await run(['region', 'us-east', '--dev', '--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--dev-public');
  });

  it('refuses meridian edge --dev-admin off loopback', async () => {
    const r = await run(['edge', '--dev-admin', '--host', '0.0.0.0', '--regions', 'us-east=http://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--dev-admin');
  });

  it('meridian region --dev --dev-public --host 0.0.0.0 starts, answers on every interface and warns on stderr', async () => {
    await startAndStop(['region', 'us-east', '--dev', '--dev-public', '--host', '0.0.0.0', '--port', '0', '--data', join(dir, 'region')], (out) => out.includes('ready.'), async (out, err) => {
      expect(err).toContain('meridian region: warning: --dev-public: dev auth on --host 0.0.0.0');
      expect(out).not.toContain('warning');
      const port = /listening on http:\/\/[^\s]+:(\d+)/.exec(out)?.[1];
      expect(port, out).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${port!}/health`)).status).toBe(200);
    });
  }, 60_000);

  it('meridian up --dev-public --host 0.0.0.0 starts and warns on stderr, its JSON line untouched', async () => {
    await startAndStop(['up', '--dev-public', '--host', '0.0.0.0', '--port-base', '0', '--json', '--data', join(dir, 'up')], (out, err) => err.includes('ready.'), async (out, err) => {
      expect(err).toContain('meridian up: warning: --dev-public: dev auth on --host 0.0.0.0');
      const info = JSON.parse(out) as { regions: Record<string, string> };
      expect(Object.keys(info.regions)).toHaveLength(3);
      const port = /:(\d+)$/.exec(info.regions['us-east']!)?.[1];
      expect((await fetch(`http://127.0.0.1:${port!}/health`)).status).toBe(200);
    });
  }, 60_000);

  it('says nothing about exposure when --dev-public is given on loopback', async () => {
    await startAndStop(['region', 'us-east', '--dev', '--dev-public', '--port', '0', '--data', join(dir, 'loopback')], (out) => out.includes('ready.'), (_out, err) => {
      expect(err).not.toContain('warning');
      return Promise.resolve();
    });
  }, 60_000);
});
