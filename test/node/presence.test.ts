// Presence through the node: queries and subscriptions over WebSocket and HTTP, converging across
// regions; the grace period hides a quick reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient, eventually } from './client.js';
import { threeRegions } from './fixtures.js';

let d: Deployment;
const clients: TestClient[] = [];
async function dev(region: string, user: string): Promise<TestClient> {
  const c = await TestClient.dev(d.wsUrl(region), user);
  clients.push(c);
  return c;
}
async function userPresence(region: string, user: string): Promise<{ online: boolean; regions: string[]; connections: number }> {
  const res = await fetch(`${d.urls[region]}/v1/presence/${encodeURIComponent(user)}`);
  return (await res.json()) as { online: boolean; regions: string[]; connections: number };
}

beforeAll(async () => {
  d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:', region: { presence: { graceMs: 300 } } });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await d?.close();
});

describe('presence', () => {
  it('shows a user online in every region with their regions and connection count', async () => {
    await dev('us-east', 'p-ann');
    await dev('ap-southeast', 'p-ann');
    for (const r of ['us-east', 'eu-west', 'ap-southeast']) {
      await eventually(async () => (await userPresence(r, 'p-ann')).connections === 2, `p-ann visible from ${r}`);
    }
    expect(await userPresence('eu-west', 'p-ann')).toMatchObject({ online: true, regions: ['ap-southeast', 'us-east'], connections: 2 });
    const q = await dev('eu-west', 'p-asker');
    expect(await q.request({ type: 'presence_query', id: 'q', user: 'p-ann' })).toMatchObject({ type: 'presence', of: 'user', state: { user: 'p-ann', online: true, connections: 2 } });
  });

  it('sends online/offline events to subscribers, once per transition, after the grace period', async () => {
    const watcher = await dev('eu-west', 'p-watch');
    expect(await watcher.request({ type: 'subscribe_presence', id: 'w', user: 'p-bob' })).toMatchObject({ type: 'presence', of: 'user', state: { online: false } });
    const bob = await TestClient.dev(d.wsUrl('us-east'), 'p-bob');
    expect(await watcher.next('presence_event')).toMatchObject({ event: 'online', user: 'p-bob', region: 'us-east' });
    // A reconnect within the grace period (even in another region) is no offline+online.
    await bob.close();
    const bob2 = await dev('ap-southeast', 'p-bob');
    await new Promise((r) => setTimeout(r, 600));
    expect(watcher.frames.filter((f) => f.type === 'presence_event')).toEqual([]);
    await bob2.close();
    expect(await watcher.next('presence_event', () => true, 3000)).toMatchObject({ event: 'offline', user: 'p-bob' });
    expect(await watcher.request({ type: 'unsubscribe_presence', id: 'u', user: 'p-bob' })).toEqual({ type: 'ok', ref: 'u' });
  });

  it('lists room members across regions, over WebSocket and HTTP, with join/leave events', async () => {
    const watcher = await dev('ap-southeast', 'p-room-watch');
    await watcher.request({ type: 'subscribe_presence', id: 'w', room: 'p-room' });
    const a = await dev('us-east', 'p-a');
    const b = await dev('eu-west', 'p-b');
    await a.request({ type: 'join', id: 'j', room: 'p-room' });
    await b.request({ type: 'join', id: 'j', room: 'p-room' });
    await watcher.next('presence_event', (e) => e.event === 'join' && e.user === 'p-a');
    await watcher.next('presence_event', (e) => e.event === 'join' && e.user === 'p-b' && e.room === 'p-room');
    const q = await watcher.request({ type: 'presence_query', id: 'q', room: 'p-room' });
    expect(q).toMatchObject({ of: 'room', room: 'p-room', truncated: false });
    expect((q as { members: { user: string }[] }).members.map((m) => m.user)).toEqual(['p-a', 'p-b']);
    const http = (await (await fetch(`${d.urls['us-east']}/v1/rooms/p-room/presence`)).json()) as { members: { user: string }[] };
    expect(http.members.map((m) => m.user)).toEqual(['p-a', 'p-b']);
    await b.request({ type: 'leave', id: 'l', room: 'p-room' });
    expect(await watcher.next('presence_event', (e) => e.event === 'leave', 3000)).toMatchObject({ user: 'p-b', room: 'p-room' });
  });
});
