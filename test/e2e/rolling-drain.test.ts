/**
 * A rolling drain of every region of `meridian up` (a real child process: embedded bus, free
 * ports, `--json`) under traffic: 50 clients spread over the three regions, each sending direct
 * messages to a partner in another region and watching its presence, while the edge's admin
 * endpoint drains us-east, then eu-west, then ap-southeast. Each drained region's clients get
 * `migrate`, move make-before-break, and the region restarts and rejoins (`/v1/regions` shows
 * `draining`, then `ready`). The goal of issue 14: 0 `recovered: false`, 0 duplicates surfaced,
 * 0 presence flaps for the clients' peers, and every acknowledged message delivered once.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { Recorder, sleep, waitFor } from './helpers.js';

interface UpInfo {
  regions: Record<string, string>;
  edge: string;
  adminToken: string;
}

const N = 50;
let child: ChildProcess;
let info: UpInfo;
let stderr = '';
const clients: MeridianClient[] = [];

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--port-base', '0', '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await waitFor(() => out.includes('\n') || child.exitCode !== null, () => `meridian up to print its JSON line (stderr: ${stderr})`, 30_000);
  info = JSON.parse(out.trim().split('\n')[0]!) as UpInfo;
}, 40_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  if (child && child.exitCode === null) {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

async function regionStates(): Promise<Record<string, string>> {
  const body = (await (await fetch(`${info.edge}/v1/regions`)).json()) as { regions: { name: string; state: string }[] };
  return Object.fromEntries(body.regions.map((r) => [r.name, r.state]));
}

describe('rolling drain of meridian up', () => {
  it('refuses a drain without the admin credential', async () => {
    const res = await fetch(`${info.edge}/v1/admin/regions/us-east/drain`, { method: 'POST' });
    expect(res.status).toBe(401);
    expect(Object.values(await regionStates())).toEqual(['ready', 'ready', 'ready']);
  });

  it('drains every region in turn under traffic: no recovered:false, no duplicates, no presence flap', async () => {
    const names = Object.keys(info.regions);
    const ws = (r: string): string => `${info.regions[r]!.replace(/^http/, 'ws')}/ws`;
    const recs: Recorder[] = [];
    for (let i = 0; i < N; i++) {
      const c = new MeridianClient({ url: ws(names[i % names.length]!), user: `rd-${i}` });
      clients.push(c);
      recs.push(new Recorder(c));
    }
    await Promise.all(clients.map((c) => c.connected()));
    await sleep(300); // every connection's presence seen in every region
    // Partner of i: i ± 25, always another region (25 is not a multiple of 3; checked below).
    const partner = (i: number): number => (i + N / 2) % N;
    for (let i = 0; i < N; i++) expect(clients[i]!.welcome!.region).not.toBe(clients[partner(i)]!.welcome!.region);
    await Promise.all(clients.map((c, i) => c.subscribePresence({ user: `rd-${partner(i)}` })));
    const firstNodes = clients.map((c) => c.welcome!.node);

    // Traffic: every client sends to its partner every ~150 ms until told to stop.
    let stop = false;
    const acked: number[][] = clients.map(() => []);
    const senders = clients.map(async (c, i) => {
      await sleep(i * 3);
      for (let k = 0; !stop; k++) {
        await c.send({ user: `rd-${partner(i)}` }, { k });
        acked[i]!.push(k);
        await sleep(150);
      }
    });

    const seen: Record<string, string[]> = {};
    for (const region of names) {
      const res = await fetch(`${info.edge}/v1/admin/regions/${region}/drain`, { method: 'POST', headers: { authorization: `Bearer ${info.adminToken}` } });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ region, action: 'drain', state: 'draining' });
      const states: string[] = [];
      await waitFor(
        async () => {
          const s = (await regionStates())[region]!;
          if (states.at(-1) !== s) states.push(s);
          return s === 'ready';
        },
        () => `${region} ready again (states ${states.join(' → ')}; stderr ${stderr.slice(-2000)})`,
        40_000,
        50,
      );
      seen[region] = states;
      await sleep(300);
    }
    stop = true;
    await Promise.all(senders);

    for (const region of names) expect(seen[region]![0]).toBe('draining');
    // Every client was moved at least once (its region drained) and is connected.
    for (const [i, c] of clients.entries()) {
      expect(c.status.type, `client ${i}`).toBe('connected');
      expect(c.welcome!.node).not.toBe(firstNodes[i]);
    }
    // Every acknowledged message arrives once, in order, at its partner.
    for (let i = 0; i < N; i++) {
      const conv = dmConversation(`rd-${i}`, `rd-${partner(i)}`);
      const r = recs[partner(i)]!;
      const missing = (): number[] => {
        const have = new Set(r.in(conv).filter((m) => m.from === `rd-${i}`).map((m) => (m.body as { k: number }).k));
        return acked[i]!.filter((k) => !have.has(k));
      };
      await waitFor(
        () => missing().length === 0,
        () => `client ${partner(i)} to have ${acked[i]!.length} messages from ${i}: missing k=${missing().join(',')}; its position ${clients[partner(i)]!.positions()[conv]}, seqs ${r.seqs(conv).join(',')}`,
        15_000,
      );
      const got = r.in(conv).filter((m) => m.from === `rd-${i}`);
      expect(got.map((m) => (m.body as { k: number }).k)).toEqual(acked[i]);
      const seqs = r.seqs(conv);
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    const recoveredFalse = recs.flatMap((r) => r.resumed.filter((x) => !x.recovered));
    expect(recoveredFalse).toEqual([]);
    expect(recs.flatMap((r) => r.lost)).toEqual([]);
    // A flap is the partner seen going offline (and back): it never went anywhere.
    const flaps = recs.flatMap((r, i) => r.presence.filter((e) => e.user === `rd-${partner(i)}` && e.event === 'offline'));
    expect(flaps).toEqual([]);
    const migrations = recs.reduce((n, r) => n + r.statuses.filter((s) => s.type === 'migrating').length, 0);
    expect(migrations).toBeGreaterThanOrEqual(N);
  }, 120_000);
});
