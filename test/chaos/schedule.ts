/**
 * Randomized fault schedules against replicated conversation logs, in the spirit of Jepsen: a
 * seeded schedule (fast-check) of region kills, link cuts, heals and restarts runs while senders
 * in every region write `replicated` messages to a few conversations and every region listens;
 * then everything heals and a checker reads the recorded history against the final logs:
 *
 * - per conversation, seqs in the final history are unique and dense (1..last);
 * - every acked message is in it exactly once, at its acked seq (an acked `replicated` message
 *   survives any failover);
 * - nothing is in it that no one sent;
 * - each sender's acked messages are in the order it sent them;
 * - every delivery a listener saw is the final history's entry at that seq (no region ever
 *   delivered a seq that later meant another message), and each listener saw seqs in order.
 *
 * A failing schedule prints its seed; `npm run chaos -- --seed S` replays it.
 */
import fc from 'fast-check';
import { dmConversation } from '../../src/protocol/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import type { Delivery, Messaging } from '../../src/messaging/mod.js';
import type { Deployment } from '../messaging/suite.js';
import type { Topology } from '../../src/topology/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';

/** What a schedule runs against: the messaging suites' deployment (regions whose buses can be killed and links cut). */
export type ChaosDeployment = Omit<Deployment, 'topology'>;

export type Step =
  | { readonly op: 'kill'; readonly region: number }
  | { readonly op: 'cut'; readonly a: number; readonly b: number }
  | { readonly op: 'heal' }
  | { readonly op: 'wait'; readonly ms: number };

/** Fail over quickly, so a schedule of a few seconds sees takeovers. */
export const CHAOS_TOPOLOGY: Topology = { ...defaultTopology(), replication: { ...defaultTopology().replication, failoverAfterMs: 1500 } };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('kill' as const), region: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant('cut' as const), a: fc.integer({ min: 0, max: 2 }), b: fc.integer({ min: 0, max: 2 }) }).filter((s) => s.a !== s.b),
  fc.constant({ op: 'heal' as const }),
  // Waits long enough, often enough, for a lost home to be taken over (1.5 s + its lease).
  fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 200, max: 4500 }) }),
);

/** The schedule a seed gives: a few faults and waits, ending healed. */
export function scheduleOf(seed: number, length = 6): Step[] {
  return fc.sample(fc.array(step, { minLength: length, maxLength: length }), { seed, numRuns: 1 })[0]!;
}

interface Attempt {
  readonly conversation: string;
  readonly from: string;
  readonly clientMsgId: string;
  readonly body: string;
  result?: { ok: true; seq: number; messageId: string } | { ok: false; code: string };
}

export interface ChaosResult {
  readonly seed: number;
  readonly schedule: Step[];
  readonly acked: number;
  readonly failed: number;
  readonly problems: string[];
  /** Takeovers that happened (home → new owner), as the regions know them. */
  readonly takeovers: string[];
}

export async function runSchedule(d: ChaosDeployment, seed: number, opts: { length?: number; log?: (line: string) => void } = {}): Promise<ChaosResult> {
  const schedule = scheduleOf(seed, opts.length);
  const regions = d.regions;
  const placement = new ConversationPlacement(CHAOS_TOPOLOGY);
  // One conversation homed in each region, two users each; the users listen in every region.
  const pairs = regions.map((home, i) => {
    for (let n = 0; ; n++) {
      const pair: [string, string] = [`s${seed}c${i}a${n}`, `s${seed}c${i}b${n}`];
      if (placement.homeOf(dmConversation(...pair)) === home) return pair;
    }
  });
  const seen = new Map<string, Map<string, { seq: number; messageId: string }[]>>();
  const stops: (() => void)[] = [];
  for (const r of regions) {
    for (const [a, b] of pairs) {
      for (const u of [a, b]) {
        const key = `${r}/${u}`;
        stops.push(
          d.messaging(r).onUser(u, (x: Delivery) => {
            if (x.kind !== 'message') return;
            const byConv = seen.get(key) ?? new Map<string, { seq: number; messageId: string }[]>();
            seen.set(key, byConv);
            const list = byConv.get(x.conversation) ?? [];
            byConv.set(x.conversation, list);
            list.push({ seq: x.seq, messageId: (JSON.parse(x.frame) as { messageId: string }).messageId });
          }),
        );
      }
    }
  }
  await new Promise((r) => setTimeout(r, 300));

  const attempts: Attempt[] = [];
  let stop = false;
  // A sender per region and conversation, one send at a time (its order must be kept), retrying
  // a failed send under the same clientMsgId a few times before it moves on.
  const senders = regions.flatMap((r, ri) =>
    pairs.map(async ([a, b], ci) => {
      for (let n = 0; n < 200 && !stop; n++) {
        const from = n % 2 === 0 ? a : b;
        const to = from === a ? b : a;
        const at: Attempt = { conversation: dmConversation(a, b), from, clientMsgId: `r${ri}c${ci}n${n}`, body: `${r}:${n}` };
        attempts.push(at);
        for (let tries = 0; tries < 3 && !stop; tries++) {
          try {
            const ack = await d.messaging(r).send({ from, to: { user: to }, body: at.body, clientMsgId: at.clientMsgId, durability: 'replicated' });
            at.result = { ok: true, seq: ack.seq, messageId: ack.messageId };
            break;
          } catch (err) {
            at.result = { ok: false, code: (err as { code?: string }).code ?? String(err) };
            await new Promise((res) => setTimeout(res, 150));
          }
        }
        await new Promise((res) => setTimeout(res, 40));
      }
    }),
  );

  const down = new Set<string>();
  const cut = new Set<string>();
  const heal = async (): Promise<void> => {
    for (const r of down) await d.revive(r);
    down.clear();
    for (const k of cut) {
      const [a, b] = k.split('|') as [string, string];
      await d.restore(a, b);
    }
    cut.clear();
  };
  try {
    for (const s of schedule) {
      opts.log?.(`  ${JSON.stringify(s)}`);
      if (s.op === 'wait') await new Promise((r) => setTimeout(r, s.ms));
      else if (s.op === 'heal') await heal();
      else if (s.op === 'kill') {
        const r = regions[s.region]!;
        // One region down at a time: this version fails a pair over once.
        if (down.size === 0) {
          down.add(r);
          await d.kill(r);
        }
      } else {
        const [a, b] = [regions[s.a]!, regions[s.b]!].sort() as [string, string];
        if (!cut.has(`${a}|${b}`) && cut.size === 0) {
          cut.add(`${a}|${b}`);
          await d.cut(a, b);
        }
      }
    }
  } finally {
    await heal();
  }
  // Let the last sends land, then stop and let copies and deliveries settle.
  await new Promise((r) => setTimeout(r, 2000));
  stop = true;
  await Promise.all(senders);
  await new Promise((r) => setTimeout(r, 2000));
  for (const s of stops) s();

  const problems: string[] = [];
  const acked = attempts.filter((a) => a.result?.ok === true) as (Attempt & { result: { ok: true; seq: number; messageId: string } })[];
  for (const [a, b] of pairs) {
    const conversation = dmConversation(a, b);
    // The final history, read through any region (the owner answers).
    let history: { seq: number; messageId: string; from: string; body: unknown; event?: string }[] = [];
    for (const r of regions) {
      try {
        const page = await d.messaging(r).history(conversation, { limit: 1000 });
        history = page.messages.map((m) => ({ seq: m.seq, messageId: m.messageId, from: m.from, body: m.body, ...(m.event === undefined ? {} : { event: m.event }) }));
        break;
      } catch {
        // try the next region
      }
    }
    // Dense per epoch: at most one jump, of exactly maxUnreplicated, where a failover's epoch began.
    const gap = CHAOS_TOPOLOGY.replication.maxUnreplicated;
    let jumps = 0;
    history.forEach((m, i) => {
      const expected = i === 0 ? 1 : history[i - 1]!.seq + 1;
      if (m.seq === expected || (m.seq === expected + gap && jumps++ === 0)) return;
      problems.push(`${conversation}: seq ${m.seq} at position ${i + 1} (not dense per epoch)`);
    });
    const byId = new Map(history.map((m) => [m.messageId, m]));
    if (byId.size !== history.length) problems.push(`${conversation}: a message is stored twice`);
    const mine = acked.filter((x) => x.conversation === conversation);
    for (const x of mine) {
      const m = byId.get(x.result.messageId);
      if (!m) problems.push(`${conversation}: acked ${x.clientMsgId} (seq ${x.result.seq}) lost`);
      else if (m.seq !== x.result.seq) problems.push(`${conversation}: acked ${x.clientMsgId} at seq ${x.result.seq}, stored at ${m.seq}`);
    }
    const sent = new Set(attempts.filter((x) => x.conversation === conversation).map((x) => x.body));
    // The runtime's own entries: a returning old home's `failover_aside` report, naming seqs inside
    // the jump where epoch 2 began (what it appended that the new owner skipped).
    const jumpAt = history.findIndex((m, i) => i > 0 && m.seq !== history[i - 1]!.seq + 1);
    for (const m of history) {
      if (m.event === undefined) {
        if (typeof m.body !== 'string' || !sent.has(m.body)) problems.push(`${conversation}: seq ${m.seq} was never sent`);
        continue;
      }
      const b = m.body as { fromSeq?: unknown; toSeq?: unknown };
      const before = jumpAt > 0 ? history[jumpAt - 1]!.seq : undefined;
      const after = jumpAt > 0 ? history[jumpAt]!.seq : undefined;
      const inJump = before !== undefined && after !== undefined && typeof b.fromSeq === 'number' && typeof b.toSeq === 'number' && b.fromSeq > before && b.toSeq < after && b.fromSeq <= b.toSeq;
      if (m.event !== 'failover_aside' || m.from !== 'meridian' || !inJump) problems.push(`${conversation}: seq ${m.seq} is an event (${m.event}) that does not name seqs skipped by a failover: ${JSON.stringify(m.body)}`);
    }
    // Per sender region: acked seqs ascend in send order.
    for (const r of regions) {
      const order = mine.filter((x) => x.body.startsWith(`${r}:`)).map((x) => x.result.seq);
      if (order.some((s, i) => i > 0 && s <= order[i - 1]!)) problems.push(`${conversation}: ${r}'s acked seqs out of order: ${order.join(',')}`);
    }
    // Deliveries agree with the final history and come in order.
    const bySeq = new Map(history.map((m) => [m.seq, m.messageId]));
    for (const [key, byConv] of seen) {
      const list = byConv.get(conversation) ?? [];
      for (const x of list) {
        const final = bySeq.get(x.seq);
        if (final !== undefined && final !== x.messageId) problems.push(`${key} ${conversation}: delivered seq ${x.seq} as ${x.messageId}, the history has ${final} there`);
        if (final === undefined) problems.push(`${key} ${conversation}: delivered seq ${x.seq}, which the history does not have`);
      }
      if (list.some((x, i) => i > 0 && x.seq <= list[i - 1]!.seq)) problems.push(`${key} ${conversation}: deliveries out of order`);
    }
  }
  const takeovers = new Set<string>();
  for (const r of regions) {
    const m = d.messaging(r) as Messaging & { takeovers?: () => readonly { home: string; owner: string }[] };
    for (const t of m.takeovers?.() ?? []) takeovers.add(`${t.home}→${t.owner}`);
  }
  return { seed, schedule, acked: acked.length, failed: attempts.length - acked.length, problems, takeovers: [...takeovers].sort() };
}
