import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from './client.js';
import { threeRegions } from './fixtures.js';

let d: Deployment;
beforeAll(async () => {
  d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:' });
});
afterAll(async () => {
  await d?.close();
});

it('a direct message crosses regions', async () => {
  const alice = await TestClient.dev(d.wsUrl('us-east'), 'alice');
  const bob = await TestClient.dev(d.wsUrl('eu-west'), 'bob');
  const ack = await alice.request({ type: 'send', id: 's1', to: { user: 'bob' }, body: { text: 'hi' }, clientMsgId: 'c1' });
  expect(ack).toMatchObject({ type: 'ack', seq: 1, conversation: 'dm:alice:bob' });
  const m = await bob.next('message');
  expect(m).toMatchObject({ from: 'alice', seq: 1, body: { text: 'hi' } });
  await alice.close();
  await bob.close();
});
