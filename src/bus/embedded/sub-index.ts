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
  private readonly exact = new Map<string, Set<SubRecord>>();
  private readonly wild = new Set<SubRecord>();

  get size(): number {
    let n = this.wild.size;
    for (const set of this.exact.values()) n += set.size;
    return n;
  }

  add(sub: SubRecord): void {
    if (isPattern(sub.subject)) {
      this.wild.add(sub);
      return;
    }
    let set = this.exact.get(sub.subject);
    if (!set) this.exact.set(sub.subject, (set = new Set()));
    set.add(sub);
  }

  remove(sub: SubRecord): void {
    if (isPattern(sub.subject)) {
      this.wild.delete(sub);
      return;
    }
    const set = this.exact.get(sub.subject);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.exact.delete(sub.subject);
  }

  match(subject: string): SubRecord[] {
    const out = [...(this.exact.get(subject) ?? [])];
    for (const sub of this.wild) if (subjectMatches(sub.subject, subject)) out.push(sub);
    return out;
  }
}

function isPattern(subject: string): boolean {
  return subject.split('.').some((t) => t === '*' || t === '>');
}
