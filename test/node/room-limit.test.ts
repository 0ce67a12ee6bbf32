// A connection may hold at most welcome.limits.maxRoomsPerConnection rooms: one more is refused
// with INVALID_FIELD (and costs nothing), leaving one makes room, re-joining is not counted twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from './client.js';
import { oneRegion } from './fixtures.js';

describe('rooms per connection', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(oneRegion(), { dataDir: ':memory:', region: { node: { auth: { dev: true }, limits: { maxRoomsPerConnection: 5 } } } });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('announces the limit and refuses the join past it', async () => {
    const c = await TestClient.open(d.wsUrl('solo'));
    c.send({ type: 'auth', id: 'a', user: 'roomy' });
    expect(await c.next('welcome')).toMatchObject({ limits: { maxRoomsPerConnection: 5 } });
    for (let i = 0; i < 5; i++) expect(await c.request({ type: 'join', id: `j${i}`, room: `r${i}` })).toMatchObject({ type: 'joined' });
    expect(await c.request({ type: 'join', id: 'j0again', room: 'r0' })).toMatchObject({ type: 'joined' });
    expect(await c.request({ type: 'join', id: 'j5', room: 'r5' })).toMatchObject({ type: 'error', name: 'INVALID_FIELD', path: 'room' });
    expect(await c.request({ type: 'leave', id: 'l0', room: 'r0' })).toMatchObject({ type: 'left' });
    expect(await c.request({ type: 'join', id: 'j5b', room: 'r5' })).toMatchObject({ type: 'joined' });
    await c.close();
  });
});
