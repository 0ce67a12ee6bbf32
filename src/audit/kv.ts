/**
 * The audit store on a bus KV bucket placed in the node's region (`mrd-audit-<region>`: JetStream
 * with NATS), one key per entry, expired by the bucket's TTL. A query lists the keys (ids sort by
 * time), newest first, and reads only the page it returns.
 */
import type { Bus, Kv } from '../bus/types.js';
import { openKv, placed } from '../placement/mod.js';
import { checkQuery, matches } from './query.js';
import type { AuditEntry, AuditQuery, AuditStore } from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export class KvAuditStore implements AuditStore {
  readonly kind = 'kv' as const;

  private constructor(private readonly kv: Kv) {}

  static async open(bus: Bus, retentionMs: number): Promise<KvAuditStore> {
    return new KvAuditStore(await openKv(bus, placed.audit(bus.region), { ttlMs: retentionMs }));
  }

  async append(e: AuditEntry): Promise<void> {
    await this.kv.put(e.id, enc.encode(JSON.stringify(e)));
  }

  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const c = checkQuery(q);
    const keys = (await this.kv.keys()).sort().reverse();
    const out: AuditEntry[] = [];
    for (const k of keys) {
      if (c.before !== undefined && !(k < c.before)) continue;
      const e = await this.kv.get(k);
      if (!e || e.operation !== 'PUT' || e.value.length === 0) continue;
      const entry = JSON.parse(dec.decode(e.value)) as AuditEntry;
      if (matches(entry, c)) out.push(entry);
      if (out.length >= c.limit) break;
    }
    return out;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
