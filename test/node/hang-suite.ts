/**
 * The ways one client (or one dead peer) used to hang a region node for good: a delivery reached
 * a session whose socket was already closing, the stream took the next message for a gap, the
 * gap fill could not write to the closed socket, and the same "gap" came back forever in resolved
 * promises (timers, /health and SIGTERM starved). The node runs in a child process so a hang
 * shows as a /health probe timing out instead of hanging the test runner; the child is killed
 * with SIGKILL whatever happens.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { CloseCode } from '../../src/protocol/mod.js';
import { TestClient } from './client.js';

export interface ChildNodeOptions {
  bus?: 'embedded' | 'nats';
  nats?: string;
  idleTimeoutMs?: number;
  heartbeatMs?: number;
  three?: boolean;
}

interface ChildNode {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
}

async function startChild(o: ChildNodeOptions): Promise<ChildNode> {
  const proc = fork(fileURLToPath(new URL('./fixtures/node-child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_OPTIONS_JSON: JSON.stringify(o) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const urls = await new Promise<Record<string, string>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the node did not start in 30 s')), 30_000);
    proc.once('message', (m) => {
      clearTimeout(t);
      resolve((m as { urls: Record<string, string> }).urls);
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`the node exited with ${code} before it started`));
    });
  });
  return { proc, url: Object.values(urls)[0]!, exited };
}

/** /health answers within `ms` (a hung node never answers). */
async function healthy(url: string, ms = 3000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(ms) });
    return res.ok;
  } catch {
    return false;
  }
}

/** The node's authenticated sessions (/stats `sessions`: a session stops counting when the node closes it). */
async function sessions(url: string): Promise<number> {
  const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(3000) });
  return ((await res.json()) as { sessions: number }).sessions;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ws = (url: string): string => `${url.replace(/^http/, 'ws')}/ws`;

export function hangSuite(options: () => ChildNodeOptions): void {
  let child: ChildNode | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    if (child !== undefined && child.proc.exitCode === null) child.proc.kill('SIGKILL');
    await child?.exited;
    child = undefined;
  });

  async function client(user: string): Promise<TestClient> {
    const c = await TestClient.dev(ws(child!.url), user);
    clients.push(c);
    return c;
  }

  /** The node still answers, and SIGTERM still ends it (a spinning loop ignores both). */
  async function expectAlive(): Promise<void> {
    expect(await healthy(child!.url)).toBe(true);
    child!.proc.kill('SIGTERM');
    const code = await Promise.race([child!.exited, sleep(15_000).then(() => 'still running' as const)]);
    expect(code).toBe(0);
  }

  it('a client closed 1009 (oversized frame) while its own sends are being stored leaves the node answering', async () => {
    child = await startChild(options());
    for (let round = 0; round < 3; round++) {
      const a = await client(`big-${round}`);
      a.send({ type: 'send', id: 's0', to: { user: `peer-${round}` }, body: 'hello', clientMsgId: 'k0' });
      await a.next('ack');
      await a.next('message');
      a.ws.pause();
      const burst: string[] = [];
      for (let i = 1; i <= 5; i++) burst.push(JSON.stringify({ type: 'send', id: `s${i}`, to: { user: `peer-${round}` }, body: `m${i}`, clientMsgId: `k${i}` }));
      for (const f of burst) a.ws.send(f);
      a.ws.send('x'.repeat(600 * 1024));
      // Still not reading: the node's close handshake cannot complete while the sends are stored.
      await sleep(500);
      expect(await healthy(child.url)).toBe(true);
      a.ws.resume();
      expect((await a.closed).code).toBe(1009);
    }
    await expectAlive();
  }, 90_000);

  it('a room member closed 4753 (invalid frames) while the room gets messages leaves the node answering', async () => {
    child = await startChild(options());
    for (let round = 0; round < 3; round++) {
      const room = `abuse-${round}`;
      const m = await client(`m-${round}`);
      const other = await client(`o-${round}`);
      await m.request({ type: 'join', id: 'j', room });
      await other.request({ type: 'join', id: 'j', room });
      other.send({ type: 'send', id: 'w', to: { room }, body: 'warm-up', clientMsgId: 'w' });
      await m.next('message');
      m.ws.pause();
      for (let i = 0; i < 110; i++) m.ws.send('{not json');
      other.send({ type: 'send', id: 'a', to: { room }, body: 'one', clientMsgId: 'a' });
      other.send({ type: 'send', id: 'b', to: { room }, body: 'two', clientMsgId: 'b' });
      m.ws.resume();
      expect((await m.closed).code).toBe(CloseCode.POLICY_VIOLATION);
      await other.waitAcks(3, 10_000);
      other.send({ type: 'send', id: 'c', to: { room }, body: 'three', clientMsgId: 'c' });
      await other.waitAcks(1, 10_000);
      expect(await healthy(child.url)).toBe(true);
    }
    await expectAlive();
  }, 90_000);

  it('a room member whose network dies silently is closed by the idle timeout and the node keeps answering', async () => {
    child = await startChild({ ...options(), idleTimeoutMs: 1500, heartbeatMs: 500 });
    const room = 'silent';
    const dead = await client('dead');
    const talker = await client('talker');
    await dead.request({ type: 'join', id: 'j', room });
    await talker.request({ type: 'join', id: 'j', room });
    expect(await sessions(child.url)).toBe(2);
    // The network dies: nothing read, nothing sent (no heartbeats), no FIN.
    dead.ws.pause();
    let sent = 0;
    // How many room messages had been sent when the node stopped counting the dead member.
    let sentAtClose: number | undefined;
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      talker.send({ type: 'send', id: `t${sent}`, to: { room }, body: `tick ${sent}`, clientMsgId: `t${sent}` });
      sent++;
      await sleep(250);
      if (sentAtClose === undefined && (await sessions(child.url)) === 1) sentAtClose = sent;
    }
    await talker.waitAcks(sent, 10_000);
    expect(await healthy(child.url)).toBe(true);
    // The idle timeout closed the dead member (its socket is still paused: the node did it), and
    // the room kept getting messages after that: the deliveries that used to spin the node.
    expect(sentAtClose, 'the idle timeout never closed the dead member').toBeDefined();
    expect(sent - sentAtClose!).toBeGreaterThanOrEqual(2);
    expect(await sessions(child.url)).toBe(1);
    // The talker still gets the room's messages, in order.
    const seqs = talker.messages('room:silent').map((x) => x.seq);
    expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    // The network comes back: what the node wrote before cutting it off ends in its close frame.
    dead.ws.resume();
    expect((await dead.closed).code).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    await expectAlive();
  }, 90_000);
}
