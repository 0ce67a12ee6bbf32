/**
 * The inbox index at a conversation's home (src/messaging/home-state.ts) on the embedded bus: a
 * user's direct conversations are one value (one get lists them, no key listing), indexing is
 * idempotent and safe under concurrent writers, the earlier per-pair keys are folded into the
 * lists when a node first opens the bucket, and erasure removes a user's list or a conversation
 * from its users' lists (and earlier keys), counting (user, conversation) entries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { HomeState, eraseInboxIndex } from '../../src/messaging/home-state.js';
import { keys } from '../../src/messaging/keys.js';
import { openKv, placed } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';

describe('inbox index', () => {
  let network: EmbeddedNetwork | undefined;
  afterEach(async () => {
    await network?.close();
  });
  const setup = () => {
    network = new EmbeddedNetwork([{ name: 'eu-west', lat: 53, lon: -6 }], { latencyMs: () => 0 });
    return network.connect('eu-west');
  };

  it('lists a user\'s conversations from one value; indexing twice or concurrently keeps each once', async () => {
    const bus = setup();
    const a = new HomeState(bus);
    const b = new HomeState(bus);
    const c1 = dmConversation('ann', 'bob');
    const c2 = dmConversation('ann', 'cy');
    await Promise.all([a.index(c1, ['ann', 'bob']), b.index(c2, ['ann', 'cy']), b.index(c1, ['ann', 'bob'])]);
    await a.index(c1, ['ann', 'bob']);
    expect((await a.inbox('ann')).sort()).toEqual([c1, c2].sort());
    expect(await b.inbox('bob')).toEqual([c1]);
    expect(await b.inbox('nobody')).toEqual([]);
    const kv = await openKv(bus, placed.inbox('eu-west'));
    expect((await kv.keys('>')).sort()).toEqual([keys.inboxList('ann'), keys.inboxList('bob'), keys.inboxList('cy')].sort());
  });

  it('folds the earlier per-pair keys into the lists on first use, and deletes them', async () => {
    const bus = setup();
    const kv = await openKv(bus, placed.inbox('eu-west'));
    const c1 = dmConversation('ann', 'bob');
    for (const [u, c] of [['ann', c1], ['bob', c1]] as const) await kv.create(keys.inbox(u, c), new Uint8Array());
    const s = new HomeState(bus);
    expect(await s.inbox('ann')).toEqual([c1]);
    expect(await s.inbox('bob')).toEqual([c1]);
    expect(await kv.keys('*.*')).toEqual([]);
  });

  it('erasure removes a user\'s list, or a conversation from both users\' lists, counting entries', async () => {
    const bus = setup();
    const s = new HomeState(bus);
    const c1 = dmConversation('ann', 'bob');
    const c2 = dmConversation('ann', 'cy');
    await s.index(c1, ['ann', 'bob']);
    await s.index(c2, ['ann', 'cy']);
    const kv = await openKv(bus, placed.inbox('eu-west'));
    expect(await eraseInboxIndex(kv, { conversation: c1, users: ['ann', 'bob'] })).toBe(2);
    expect([await s.inbox('ann'), await s.inbox('bob')]).toEqual([[c2], []]);
    expect(await eraseInboxIndex(kv, { user: 'ann' })).toBe(1);
    expect(await s.inbox('ann')).toEqual([]);
    expect(await s.inbox('cy')).toEqual([c2]);
    expect(await eraseInboxIndex(kv, { user: 'ann' })).toBe(0);
  });
});
