/**
 * Conversation homes without a directory: every region computes the same home from the id and
 * the topology, homes spread over the candidates, rules narrow the candidates, and the order of
 * regions in the topology means nothing.
 */
import { describe, expect, it } from 'vitest';
import { ConversationPlacement, everyPlace, isMeridianStream, placed } from '../../src/placement/mod.js';
import { DEFAULT_TOPOLOGY_YAML, defaultTopology, linkLatencyMs, parseTopology, TopologyError } from '../../src/topology/mod.js';
import { dmConversation, roomConversation } from '../../src/protocol/mod.js';

const ids = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? roomConversation(`room-${i}`) : dmConversation(`u${i}`, `v${i}`)));

describe('conversation homes', () => {
  it('are the same whichever region computes them and whatever order the topology lists regions in', () => {
    const t = defaultTopology();
    const a = new ConversationPlacement(t);
    const b = new ConversationPlacement({ ...t, regions: [...t.regions].reverse() });
    for (const c of ids) expect(b.homeOf(c)).toBe(a.homeOf(c));
  });

  it('spread over every region when no rule narrows them', () => {
    const p = new ConversationPlacement(defaultTopology());
    const counts = new Map<string, number>();
    for (const c of ids) counts.set(p.homeOf(c), (counts.get(p.homeOf(c)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...p.regions].sort());
    // 3000 ids over 3 regions: each gets a fair share (binomial, 1000 ± 6 sd is far inside this).
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
  });

  it('adding a region moves only the homes the new region takes', () => {
    const t = defaultTopology();
    const before = new ConversationPlacement({ regions: t.regions.slice(0, 2) });
    const after = new ConversationPlacement(t);
    const added = t.regions[2]!.name;
    for (const c of ids) if (after.homeOf(c) !== added) expect(after.homeOf(c)).toBe(before.homeOf(c));
  });

  it('follow the first placement rule whose glob matches, in the topology file', () => {
    const yaml = `${DEFAULT_TOPOLOGY_YAML}placement:\n  conversations:\n    - match: "room:eu-*"\n      regions: [eu-west]\n    - match: "room:*"\n      regions: [us-east, ap-southeast]\n`;
    const p = new ConversationPlacement(parseTopology(yaml));
    expect(p.homeOf(roomConversation('eu-sales'))).toBe('eu-west');
    expect(p.candidates(roomConversation('eu-sales'))).toEqual(['eu-west']);
    for (let i = 0; i < 200; i++) expect(['us-east', 'ap-southeast']).toContain(p.homeOf(roomConversation(`r${i}`)));
    expect(p.candidates(dmConversation('a', 'b'))).toEqual(p.regions);
  });

  it('a rule naming an unknown region is a topology error', () => {
    const yaml = `${DEFAULT_TOPOLOGY_YAML}placement:\n  conversations:\n    - match: "room:*"\n      regions: [mars]\n`;
    expect(() => parseTopology(yaml)).toThrow(TopologyError);
    expect(() => parseTopology(yaml)).toThrow(/unknown region "mars" in placement rule/);
  });
});

describe('buckets and streams', () => {
  it('every bucket and log belongs to one region and is held there', () => {
    const regions = ['us-east', 'eu-west', 'ap-southeast'];
    const { buckets, logs } = everyPlace(regions);
    expect(buckets).toHaveLength(8 * regions.length);
    expect(new Set(buckets.map((b) => b.name)).size).toBe(buckets.length);
    for (const b of buckets) expect(b.name.endsWith(`-${b.region}`)).toBe(true);
    expect(logs.map((l) => [l.region, l.stream, l.headStream])).toEqual(regions.map((r) => [r, `MRD_LOG_${r}`, `MRD_LOGHEAD_${r}`]));
    expect(placed.presence('eu-west')).toEqual({ name: 'mrd-presence-eu-west', region: 'eu-west' });
  });

  it('tells Meridian streams from others', () => {
    expect(isMeridianStream('KV_mrd-inbox-us-east')).toBe(true);
    expect(isMeridianStream('MRD_LOGHEAD_eu-west')).toBe(true);
    expect(isMeridianStream('KV_orders')).toBe(false);
    expect(isMeridianStream('ORDERS')).toBe(false);
  });
});

describe('replicas', () => {
  it('the replica of a conversation is the candidate nearest its home, never the home', () => {
    const t = defaultTopology();
    const p = new ConversationPlacement(t);
    for (const c of ids.slice(0, 300)) {
      const home = p.homeOf(c);
      const [replica] = p.replicasOf(c);
      expect(replica).toBeDefined();
      expect(replica).not.toBe(home);
      const others = t.regions.map((r) => r.name).filter((r) => r !== home);
      const nearest = others.sort((a, b) => linkLatencyMs(t, home, a) - linkLatencyMs(t, home, b))[0];
      expect(replica).toBe(nearest);
    }
  });

  it('none when replication is off, or when a rule leaves the home alone and the file does not ask for replicas', () => {
    const off = new ConversationPlacement(parseTopology(`${DEFAULT_TOPOLOGY_YAML}replication:\n  replicas: 0\n`));
    expect(off.replicasOf(roomConversation('x'))).toEqual([]);
    const pinned = new ConversationPlacement(parseTopology(`${DEFAULT_TOPOLOGY_YAML}placement:\n  conversations:\n    - match: "room:eu-*"\n      regions: [eu-west]\n`));
    expect(pinned.replicasOf(roomConversation('eu-1'))).toEqual([]);
  });

  it('meridian validate refuses replication it cannot satisfy, with the rule\'s location', () => {
    const tight = `${DEFAULT_TOPOLOGY_YAML}placement:\n  conversations:\n    - match: "room:eu-*"\n      regions: [eu-west]\nreplication:\n  replicas: 1\n`;
    expect(() => parseTopology(tight)).toThrow(/:\d+:\d+ placement\.conversations\[0\]\.regions: rule "room:eu-\*" allows 1 region\(s\), but replication\.replicas: 1 needs 2/);
    const bad = `${DEFAULT_TOPOLOGY_YAML}replication:\n  durability: replicated\n  allow: [local]\n`;
    expect(() => parseTopology(bad)).toThrow(/default durability "replicated" is not in replication\.allow/);
    expect(() => parseTopology(`${DEFAULT_TOPOLOGY_YAML}replication:\n  replicas: 2\n`)).toThrow(TopologyError);
  });
});
