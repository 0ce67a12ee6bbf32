// Dev auth (anyone may connect as any user) is refused on a non-loopback listen address unless
// --dev-public says so explicitly; --dev-admin likewise never leaves loopback.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(argv, { out: () => undefined, err: (s) => (err += s) });
  return { code, err };
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
});
