/**
 * Messaging on the embedded network: three regions in this process, SQLite logs in a temp dir.
 * Also what only the embedded setup can show cheaply: a restart with an empty homes bucket keeps
 * conversations in the region whose log has them, and the fan-out's gap filling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { subjects } from '../../src/bus/subjects.js';
import { openSqliteLog } from '../../src/log/mod.js';
import type { MessageLog } from '../../src/log/mod.js';
import { Fanout } from '../../src/messaging/fanout.js';
import { createMessaging, encodeMessage } from '../../src/messaging/mod.js';
import type { Delivery, Messaging, StoredMessage } from '../../src/messaging/mod.js';
import { DEFAULT_TOPOLOGY_YAML, defaultTopology, parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { ErrorCode } from '../../src/errors/mod.js';
import { eventually, runFailoverConformance, runMessagingConformance } from './suite.js';
import type { Deployment } from './suite.js';

const REGIONS = defaultTopology().regions.map((r) => r.name);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function deploy(dir: string, topology: Topology = defaultTopology()): Promise<Deployment & { network: EmbeddedNetwork; logs: MessageLog[] }> {
  // Short links keep the suite quick; the WAN model itself is tested with the bus.
  const network = new EmbeddedNetwork(topology.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })), { latencyMs: (a, b) => (a === b ? 0 : 5) });
  const logs: MessageLog[] = [];
  const ms = new Map<string, Messaging>();
  for (const region of REGIONS) {
    const log = openSqliteLog({ path: join(dir, `${region}.db`) });
    logs.push(log);
    ms.set(region, await createMessaging({ bus: network.connect(region), region, topology, log, rpcTimeoutMs: 2000 }));
  }
  return {
    network,
    logs,
    topology,
    log: (r) => logs[REGIONS.indexOf(r)]!,
    regions: REGIONS,
    messaging: (r) => ms.get(r)!,
    kill: (r) => Promise.resolve(network.kill(r)),
    revive: (r) => Promise.resolve(network.revive(r)),
    cut: (a, b) => Promise.resolve(network.cut(a, b)),
    restore: (a, b) => Promise.resolve(network.restore(a, b)),
    async close() {
      await Promise.all([...ms.values()].map((m) => m.close()));
      await Promise.all(logs.map((l) => l.close()));
      await network.close();
    },
  };
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mrd-msg-'));
  dirs.push(d);
  return d;
}

runMessagingConformance({ name: 'embedded', create: (t) => deploy(tempDir(), t) });
runFailoverConformance({ name: 'embedded', create: (t) => deploy(tempDir(), t) });

describe('messaging on the embedded network', () => {
  it('a restart finds every conversation where it was: homes are computed from the id, not stored in a bucket', async () => {
    const dir = tempDir();
    const first = await deploy(dir);
    const ack = await first.messaging('ap-southeast').send({ from: 'ann', to: { user: 'ben' }, body: 1, clientMsgId: 'a' });
    await first.close();
    // A new network: its KV (in memory) is empty, the SQLite files are the same.
    const second = await deploy(dir);
    try {
      const page = await second.messaging('eu-west').history(ack.conversation);
      expect(page.messages.map((m) => m.body)).toEqual([1]);
      const next = await second.messaging('us-east').send({ from: 'ben', to: { user: 'ann' }, body: 2, clientMsgId: 'b' });
      expect(next).toMatchObject({ home: ack.home, seq: 2 });
    } finally {
      await second.close();
    }
  });

  it('a durability the deployment cannot give is refused with MSG_DURABILITY_NOT_ALLOWED, before anything is stored', async () => {
    const t = parseTopology(`${DEFAULT_TOPOLOGY_YAML}replication:\n  replicas: 0\n`);
    const network = new EmbeddedNetwork(t.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })), { latencyMs: () => 1 });
    const log = openSqliteLog({ path: ':memory:' });
    const m = await createMessaging({ bus: network.connect('us-east'), region: 'us-east', topology: t, log });
    try {
      const placement = new ConversationPlacement(t);
      let peer = 0;
      while (placement.homeOf(dmConversation('ann', `p${peer}`)) !== 'us-east') peer++;
      const to = { user: `p${peer}` };
      const err = await m.send({ from: 'ann', to, body: 1, clientMsgId: 'd1', durability: 'replicated' }).catch((e: { code?: string }) => e.code);
      expect(err).toBe(ErrorCode.MsgDurabilityNotAllowed);
      expect(await log.last(dmConversation('ann', to.user))).toBe(0);
      expect(await m.send({ from: 'ann', to, body: 1, clientMsgId: 'd1' })).toMatchObject({ seq: 1, durability: 'local' });
    } finally {
      await m.close();
      await log.close();
      await network.close();
    }
  });

  it('the fan-out restores order: a seq after a gap waits, the log fills the gap, duplicates are dropped', async () => {
    const network = new EmbeddedNetwork([{ name: 'x', lat: 0, lon: 0 }]);
    const bus = network.connect('x');
    const msg = (seq: number): StoredMessage => ({ conversation: 'room:r', seq, messageId: `m${seq}`, from: 'u', to: { room: 'r' }, body: seq, timestamp: 1, region: 'x' });
    const fills: Array<[number, number]> = [];
    const fanout = new Fanout(bus, (_c, after, upTo) => {
      fills.push([after, upTo]);
      return Promise.resolve([msg(2), msg(3)].filter((m) => m.seq > after && m.seq <= upTo));
    }, 30);
    const got: Delivery[] = [];
    const other: Delivery[] = [];
    const stop = fanout.on(subjects.room('r'), (d) => got.push(d));
    const stop2 = fanout.on(subjects.room('r'), (d) => other.push(d));
    const pub = (seq: number): void => bus.publish(subjects.room('r'), new TextEncoder().encode(encodeMessage(msg(seq))));
    pub(1);
    pub(4);
    pub(1);
    await eventually(() => got.length === 4, 'four deliveries');
    expect(got.map((d) => d.seq)).toEqual([1, 2, 3, 4]);
    expect(fills).toEqual([[1, 3]]);
    // Every handler gets the very same objects (the node frames each once).
    expect(other).toEqual(got);
    expect(other[0]).toBe(got[0]);
    pub(5);
    await eventually(() => got.length === 5, 'the fifth');
    stop();
    stop2();
    expect(fanout.subjects).toBe(0);
    fanout.close();
    await bus.close();
    await network.close();
  });
});
