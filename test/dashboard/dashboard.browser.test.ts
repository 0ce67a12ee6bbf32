/**
 * The dashboard in a real browser (headless Chromium driven by playwright-core) against
 * `meridian up` as a child process: the page opened from the URL `up` prints shows the three
 * regions on the map; with clients sending across regions, flows are drawn between them (5-second
 * rates). With the senders still sending, a click on "Take down" marks the region down on the map
 * and in its card, stalls its flows and moves its share of steering to the others within 2 s (the
 * edge's /v1/route agrees); its user's client moves to a surviving region and goes on sending,
 * so a flow between the survivors rises on the map within seconds while none of the lost
 * region's flows is live; "Bring up" brings it back. Screenshots go to .test-results/
 * (dashboard.png, dashboard-down.png).
 *
 * Needs /usr/bin/chromium (or CHROMIUM_PATH): skipped with the reason when missing, except in CI
 * (CI=true), where a missing browser fails the run.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { waitFor } from '../e2e/helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
const ARTIFACTS = '.test-results';
/** The region the second test takes down. */
const VICTIM = 'eu-west';

interface UpInfo {
  regions: Record<string, string>;
  edge: string;
  adminToken: string;
  dashboard: string;
}

if (!HAVE_CHROMIUM && IN_CI) {
  describe('dashboard in a browser', () => {
    it('needs Chromium in CI', () => {
      throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs it (apt-get install chromium), or set CHROMIUM_PATH`);
    });
  });
}

describe.skipIf(!HAVE_CHROMIUM)(`dashboard in a browser${HAVE_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium or set CHROMIUM_PATH)`}`, () => {
  let child: ChildProcess;
  let info: UpInfo;
  let stderr = '';
  let browser: Browser;
  let page: Page;
  const clients: MeridianClient[] = [];
  /** The region each sender's client is connected to now. */
  const at = new Map<MeridianClient, string>();
  let sending = true;
  let traffic: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--port-base', '0', '--edge-port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => out.includes('\n') || child.exitCode !== null, () => `meridian up to print its JSON line (stderr: ${stderr})`, 40_000);
    info = JSON.parse(out.trim().split('\n')[0]!) as UpInfo;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    sending = false;
    await traffic;
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await browser?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  /**
   * Users, one per region, whose direct conversations are homed outside VICTIM: their sends go on
   * while it is down without waiting for a takeover of its conversations (which the failover test
   * covers), so the flows show only where clients are.
   */
  function senderNames(regions: readonly string[]): string[] {
    const placement = new ConversationPlacement(defaultTopology());
    for (let k = 0; ; k++) {
      const users = regions.map((r) => `dash-${r}-${k}`);
      if (users.every((a, i) => users.every((b, j) => j <= i || placement.homeOf(dmConversation(a, b)) !== VICTIM))) return users;
    }
  }

  /**
   * One client per region, each sending a message to the two others every 200 ms until the tests
   * end (at most 150 s). Each lists the other regions after its own, so the one in a region taken
   * down reconnects to a survivor and goes on sending from there.
   */
  async function startTraffic(): Promise<void> {
    const names = Object.keys(info.regions);
    const users = senderNames(names);
    const ws = (r: string): string => `${info.regions[r]!.replace(/^http/, 'ws')}/ws`;
    for (const [i, r] of names.entries()) {
      const c = new MeridianClient({ url: [r, ...names.filter((o) => o !== r)].map(ws), user: users[i]!, backoff: { initialMs: 100, maxMs: 500 } });
      c.on('status', (st) => {
        if (st.type === 'connected') at.set(c, st.region);
      });
      clients.push(c);
      await c.connected();
    }
    // Two more through the edge, so the edge's own counts show too.
    for (const u of ['dash-edge-1', 'dash-edge-2']) {
      const c = new MeridianClient({ url: `${info.edge.replace(/^http/, 'ws')}/ws`, user: u });
      clients.push(c);
      await c.connected();
    }
    traffic = (async () => {
      const end = Date.now() + 150_000;
      for (let n = 0; sending && Date.now() < end && n < 750; n++) {
        for (const [i, c] of clients.slice(0, names.length).entries()) {
          for (const to of users.filter((_, j) => j !== i)) c.send({ user: to }, { n }).catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }

    /**
   * Runs in the page (plain JS, as a string: the test project has no DOM types): notes when the
   * browser dispatches the click on "Take down" (window.__clickedAt: driving the click through the
   * browser protocol takes long on a busy machine, and is not the page's doing), and every 10 ms
   * what the page shows about VICTIM; sets window.__movedAt when it is marked down on the map and
   * in its card, has no steering share while the others have the rest, and every live flow is
   * between the others.
   */
  const MOVED_WATCHER = `(() => {
    window.__movedAt = null;
    window.__clickedAt = null;
    const v = 'VICTIM';
    document.addEventListener('click', (e) => {
      if (window.__clickedAt === null && e.target.closest('[data-action="down"]')) window.__clickedAt = Date.now();
    }, true);
    const timer = setInterval(() => {
      const marker = document.querySelector('#regions .region[data-region="' + v + '"]');
      const card = document.querySelector('.card[data-region="' + v + '"]');
      const share = Number(document.querySelector('#share-legend li[data-region="' + v + '"]')?.getAttribute('data-share'));
      const others = [...document.querySelectorAll('#share-legend li[data-region]')].filter((li) => li.getAttribute('data-region') !== v).reduce((a, li) => a + Number(li.getAttribute('data-share')), 0);
      const live = [...document.querySelectorAll('#flows .flow:not(.stalled)')].map((f) => [f.getAttribute('data-from'), f.getAttribute('data-to')]);
      const view = { marker: marker?.getAttribute('data-state'), card: card?.getAttribute('data-state'), share, others, live };
      window.__lastView = view;
      const moved = view.marker === 'down' && view.card === 'down' && share === 0 && others > 0.5 && live.length > 0 && live.every((f) => !f.includes(v));
      if (moved) {
        window.__movedAt = Date.now();
        clearInterval(timer);
      }
    }, 10);
  })()`;

  const routeNear = async (lat: number, lon: number): Promise<string | null> => ((await (await fetch(`${info.edge}/v1/route?lat=${lat}&lon=${lon}`)).json()) as { region: string | null }).region;

  it('shows the three regions of meridian up on the world map, with flows between them', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    // The URL meridian up prints: the token in the fragment, which is never sent to the edge.
    expect(info.dashboard).toBe(`${info.edge}/dashboard#token=${info.adminToken}`);
    await page.goto(info.dashboard);
    await page.waitForSelector('#regions .region[data-state="up"] >> nth=2', { timeout: 10_000 });
    expect(await page.locator('#regions .region').count()).toBe(3);
    expect(await page.locator('#live').getAttribute('data-state')).toBe('live');
    // The token left the address bar at once.
    expect(page.url()).not.toContain('token=');

    await startTraffic();
    await page.waitForSelector('#flows .flow:not(.stalled)', { timeout: 15_000 });
    // Every direction between the three regions carries messages.
    await waitFor(async () => (await page.locator('#flows .flow:not(.stalled)').count()) >= 6, 'six live flows on the map', 15_000, 100);
    // The built-in topology sets no SLO targets: with every node's /stats in (the six flows come
    // from them), each card says so instead of calling an SLO nobody set "met".
    for (const region of Object.keys(info.regions)) {
      const slo = page.locator(`.card[data-region="${region}"] .metrics div`, { has: page.locator('dt', { hasText: /^SLO$/ }) }).locator('dd');
      expect(await slo.textContent()).toBe('no targets');
      expect(await slo.getAttribute('title')).toContain('no slo: targets');
    }
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png` });
    expect(errors).toEqual([]);
  }, 60_000);

  /** Each live flow on the map: "from>to" → its rate, as the page draws it (data-per-sec). */
  const liveFlows = (): Promise<Record<string, number>> =>
    page.evaluate<Record<string, number>>(`Object.fromEntries([...document.querySelectorAll('#flows .flow:not(.stalled)')].map((f) => [f.getAttribute('data-from') + '>' + f.getAttribute('data-to'), Number(f.getAttribute('data-per-sec'))]))`);

  it('takes a region down from its button while clients send: marked down, its flows stalled and steering moved within 2 s, a survivors\' flow rising as its client moves; then brings it back', async () => {
    const victim = VICTIM;
    const card = page.locator(`.card[data-region="${victim}"]`);
    const survivors = Object.keys(info.regions).filter((r) => r !== victim);
    expect(await routeNear(53.35, -6.26)).toBe(victim);
    expect(Number(await page.locator(`#share-legend li[data-region="${victim}"]`).getAttribute('data-share'))).toBeGreaterThan(0);
    // The victim's client moves to the first survivor it lists: the flows between the survivors
    // then carry its messages too (to the other survivor's user, and to it from there).
    const mover = clients.find((c) => at.get(c) === victim);
    expect(mover, `a sender connected to ${victim}`).toBeDefined();
    const between = [`${survivors[0]}>${survivors[1]}`, `${survivors[1]}>${survivors[0]}`];
    const both = (f: Record<string, number>): number => between.reduce((a, k) => a + (f[k] ?? 0), 0);
    // The rate between the survivors before (both directions: one user's sends each way), the
    // highest of a few readings: a 5-s window read mid-slot is up to a fifth low, and a busy
    // machine slows the senders now and then.
    let before: Record<string, number> = {};
    await waitFor(
      async () => {
        before = await liveFlows();
        return between.every((k) => (before[k] ?? 0) > 0) && Object.keys(before).some((k) => k.includes(victim));
      },
      'live flows between the survivors and to the victim',
      15_000,
      100,
    );
    let baseline = both(before);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400));
      baseline = Math.max(baseline, both(await liveFlows()));
    }

    // A watcher in the page notes the click and when the page first shows everything moved:
    // reading the page from here takes round trips of its own, which must not count against 2 s.
    await page.evaluate(MOVED_WATCHER.replaceAll('VICTIM', victim));
    const t0 = Date.now();
    await card.locator('button[data-action="down"]').click();
    let movedAt: number | null = null;
    await waitFor(async () => (movedAt = await page.evaluate<number | null>('window.__movedAt')) !== null, 'the page to show the region down', 5000, 50).catch(() => undefined);
    const seen = await page.evaluate<unknown>('window.__lastView');
    expect(movedAt, `after ${Date.now() - t0} ms the page shows ${JSON.stringify(seen)}`).not.toBeNull();
    const clickedAt = await page.evaluate<number>('window.__clickedAt');
    expect(movedAt! - clickedAt, `the page showed it ${movedAt! - clickedAt} ms after the click`).toBeLessThanOrEqual(2000);
    // The edge agrees: a client next to the victim is sent elsewhere.
    const now = await routeNear(53.35, -6.26);
    expect(now).not.toBe(victim);
    expect(now).not.toBeNull();
    expect(await page.locator('#places-list li', { hasText: 'Dublin →' }).locator('.to').textContent()).toBe(now);
    expect(await card.locator('button[data-action="down"]').isDisabled()).toBe(true);

    // Traffic really moves: the victim's sender reconnects to a survivor and goes on, and the map
    // shows the flows between the survivors at half again their rate before (it doubles: the
    // mover's sends and those to it cross there now; 5-s rates, so within seconds of the move),
    // with no live flow to or from the victim all along.
    await waitFor(() => at.get(mover!) !== victim, `${victim}'s sender to reconnect to a survivor`, 10_000, 50);
    let after: Record<string, number> = {};
    await waitFor(
      async () => {
        after = await liveFlows();
        expect(Object.keys(after).filter((k) => k.includes(victim)), 'no live flow of the victim').toEqual([]);
        return both(after) >= 1.5 * baseline;
      },
      () => `the survivors' flows to rise from ${baseline}/s (${JSON.stringify(before)}; now ${JSON.stringify(after)})`,
      15_000,
      200,
    );
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-down.png` });

    await card.locator('button[data-action="up"]').click();
    await page.waitForSelector(`#regions .region[data-region="${victim}"][data-state="up"]`, { timeout: 10_000 });
    await waitFor(async () => (await routeNear(53.35, -6.26)) === victim, `${victim} to take its clients back`, 5000, 50);
    await waitFor(async () => Number(await page.locator(`#share-legend li[data-region="${victim}"]`).getAttribute('data-share')) > 0, `${victim}'s steering share back`, 2000, 50);
  }, 60_000);

  it('asks for the admin token when the one it has is refused', async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${info.edge}/dashboard#token=wrong-token`);
      await other.waitForSelector('#token-form:not([hidden])', { timeout: 5000 });
      expect(await other.locator('#live').getAttribute('data-state')).toBe('error');
      await other.fill('#token-input', info.adminToken);
      await other.click('#token-form button[type="submit"]');
      await other.waitForSelector('#regions .region >> nth=2', { timeout: 5000 });
      expect(await other.locator('#live').getAttribute('data-state')).toBe('live');
    } finally {
      await other.close();
    }
  });
});
