// The demo page's script, run against a real node with a minimal stand-in for the DOM: two
// "tabs" on two regions connect as two users, and a message typed in one shows up in the other.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { eventually } from './client.js';
import { threeRegions } from './fixtures.js';

interface El {
  value: string;
  textContent: string;
  className: string;
  scrollTop: number;
  scrollHeight: number;
  children: El[];
  onclick?: () => void;
  appendChild(c: El): void;
}

function el(value = ''): El {
  return { value, textContent: '', className: '', scrollTop: 0, scrollHeight: 0, children: [], appendChild(c) { this.children.push(c); } };
}

/** Load the page from `base` and run its script in a fake tab; returns its elements. */
async function openTab(base: string): Promise<{ els: Map<string, El>; sockets: WebSocket[]; timers: NodeJS.Timeout[] }> {
  const html = await (await fetch(`${base}/`)).text();
  const script = html.split('<script>')[1]!.split('</script>')[0]!;
  const els = new Map<string, El>();
  for (const m of html.matchAll(/id="([a-z]+)"(?: value="([^"]*)")?/g)) els.set(m[1]!, el(m[2] ?? ''));
  const sockets: WebSocket[] = [];
  class TabSocket extends WebSocket {
    constructor(url: string, protocol: string) {
      super(url, protocol);
      sockets.push(this);
    }
  }
  const document = { getElementById: (id: string) => els.get(id), createElement: () => el() };
  const location = { protocol: 'http:', host: new URL(base).host };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const run = new Function('document', 'location', 'WebSocket', 'crypto', 'setInterval', 'clearInterval', script) as (...args: unknown[]) => void;
  const timers: NodeJS.Timeout[] = [];
  const every = (f: () => void, ms: number): NodeJS.Timeout => {
    const t = setInterval(f, ms);
    timers.push(t);
    return t;
  };
  run(document, location, TabSocket, globalThis.crypto, every, clearInterval);
  return { els, sockets, timers };
}

let d: Deployment;
beforeAll(async () => {
  d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:' });
});
afterAll(async () => {
  await d?.close();
});

it('lets two tabs on two regions exchange a message', async () => {
  const a = await openTab(d.urls['us-east']!);
  const b = await openTab(d.urls['eu-west']!);
  a.els.get('user')!.value = 'tab-alice';
  b.els.get('user')!.value = 'tab-bob';
  a.els.get('connect')!.onclick!();
  b.els.get('connect')!.onclick!();
  await eventually(() => a.els.get('state')!.textContent.includes('@ us-east') && b.els.get('state')!.textContent.includes('@ eu-west'), 'both tabs connected');
  a.els.get('kind')!.value = 'user'; // a <select>: its first option
  a.els.get('to')!.value = 'tab-bob';
  a.els.get('text')!.value = 'hello across the Atlantic';
  a.els.get('send')!.onclick!();
  const log = (t: { els: Map<string, El> }) => t.els.get('log')!.children.map((c) => c.textContent).join('\n');
  await eventually(() => log(b).includes('hello across the Atlantic'), 'the message in the other tab').catch((e: unknown) => {
    throw new Error(`${String(e)}\nA: ${log(a)}\nB: ${log(b)}`);
  });
  expect(log(b)).toContain('tab-alice (us-east)');
  expect(log(a)).toContain('"type":"ack"');
  for (const s of [...a.sockets, ...b.sockets]) s.close();
  for (const t of [...a.timers, ...b.timers]) clearInterval(t);
});
