/**
 * The subscriptions of one region, indexed for matching: exact subjects by map lookup, wildcard
 * patterns by scan (they are few in practice: `mrd.user.*`-style fan-in).
 */
import { subjectMatches } from '../subjects.js';
import type { BusMessage } from '../types.js';

/** One registered subscription as the network routes to it. */
export interface SubRecord {
  readonly subject: string;
  readonly queue: string | undefined;
  readonly region: string;
  /** False once unsubscribed or closed: deliveries already in flight are then discarded. */
  active: boolean;
  deliver(msg: BusMessage): void;
}

export class SubIndex {
  // Most subjects have exactly one subscription (a user's or room's channel on a node), so a lone
  // record is stored as is and a Set is made only for the second: a region node holds one
  // subscription per connected user, and an empty Set per subject would double its cost.
  private readonly exact = new Map<string, SubRecord | Set<SubRecord>>();
  private readonly wild = new Set<SubRecord>();

  get size(): number {
    let n = this.wild.size;
    for (const v of this.exact.values()) n += v instanceof Set ? v.size : 1;
    return n;
  }

  add(sub: SubRecord): void {
    if (isPattern(sub.subject)) {
      this.wild.add(sub);
      return;
    }
    const cur = this.exact.get(sub.subject);
    if (cur === undefined) this.exact.set(sub.subject, sub);
    else if (cur instanceof Set) cur.add(sub);
    else if (cur !== sub) this.exact.set(sub.subject, new Set([cur, sub]));
  }

  remove(sub: SubRecord): void {
    if (isPattern(sub.subject)) {
      this.wild.delete(sub);
      return;
    }
    const cur = this.exact.get(sub.subject);
    if (cur === undefined) return;
    if (cur === sub) {
      this.exact.delete(sub.subject);
      return;
    }
    if (!(cur instanceof Set)) return;
    cur.delete(sub);
    if (cur.size === 1) this.exact.set(sub.subject, cur.values().next().value!);
    else if (cur.size === 0) this.exact.delete(sub.subject);
  }

  /** Every record (a closing bus finds its own here: it keeps no set of them per bus). */
  all(): SubRecord[] {
    const out = [...this.wild];
    for (const v of this.exact.values()) {
      if (v instanceof Set) out.push(...v);
      else out.push(v);
    }
    return out;
  }

  match(subject: string): SubRecord[] {
    const cur = this.exact.get(subject);
    const out = cur === undefined ? [] : cur instanceof Set ? [...cur] : [cur];
    for (const sub of this.wild) if (subjectMatches(sub.subject, subject)) out.push(sub);
    return out;
  }
}

function isPattern(subject: string): boolean {
  return subject.split('.').some((t) => t === '*' || t === '>');
}
