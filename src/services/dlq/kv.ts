/**
 * `KvDeadLetterQueue`: the DLQ in a bus KV bucket placed in the node's region (`mrd-dlq-<region>`
 * on JetStream KV with NATS, the embedded KV in one process). One key per letter (the invocation
 * id); replays are recorded by compare-and-set on the key's revision, retried on conflict, so two
 * concurrent replays are both kept. Listing reads every key: a DLQ holds failures an operator
 * looks at, not a stream of traffic.
 */
import type { Bus, Kv } from '../../bus/types.js';
import { kvToken } from '../../bus/subjects.js';
import { openKv, placed } from '../../placement/mod.js';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import { byAge, checkList, closedError, notFound, page, withReplay } from './common.js';
import type { AttemptRecord, DeadLetter, DeadLetterQueue, ListOptions, NewDeadLetter } from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const CAS_ATTEMPTS = 10;

export interface KvDlqOptions {
  readonly bus: Bus;
  /** Region holding the bucket. Default: the bus's region. */
  readonly region?: string;
  /** Bucket name. Default `mrd-dlq-<region>`. */
  readonly bucket?: string;
}

export class KvDeadLetterQueue implements DeadLetterQueue {
  readonly kind = 'kv' as const;
  private closed = false;

  private constructor(private readonly kv: Kv) {}

  static async open(opts: KvDlqOptions): Promise<KvDeadLetterQueue> {
    const region = opts.region ?? opts.bus.region;
    const place = placed.dlq(region);
    const kv = await openKv(opts.bus, opts.bucket === undefined ? place : { ...place, name: opts.bucket });
    return new KvDeadLetterQueue(kv);
  }

  async put(letter: NewDeadLetter): Promise<DeadLetter> {
    this.assertOpen();
    const full: DeadLetter = { ...letter, state: 'dead', replays: [] };
    try {
      await this.kv.create(kvToken(full.id), enc.encode(JSON.stringify(full)));
      return full;
    } catch (err) {
      if (!isMeridianError(err, ErrorCode.KvKeyExists)) throw err;
      return (await this.get(full.id)) ?? full;
    }
  }

  async get(id: string): Promise<DeadLetter | null> {
    this.assertOpen();
    const e = await this.kv.get(kvToken(id));
    return e && e.operation === 'PUT' && e.value.length > 0 ? (JSON.parse(dec.decode(e.value)) as DeadLetter) : null;
  }

  async list(opts: ListOptions = {}): Promise<DeadLetter[]> {
    this.assertOpen();
    const limit = checkList(opts);
    const keys = await this.kv.keys();
    const letters = (await Promise.all(keys.map(async (k) => this.kv.get(k))))
      .filter((e) => e !== null && e.operation === 'PUT' && e.value.length > 0)
      .map((e) => JSON.parse(dec.decode(e!.value)) as DeadLetter);
    return page(letters.sort(byAge), opts, limit);
  }

  async recordReplay(id: string, outcome: AttemptRecord): Promise<DeadLetter> {
    this.assertOpen();
    const key = kvToken(id);
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const e = await this.kv.get(key);
      if (!e || e.operation !== 'PUT' || e.value.length === 0) throw notFound(id);
      const next = withReplay(JSON.parse(dec.decode(e.value)) as DeadLetter, outcome);
      try {
        await this.kv.update(key, enc.encode(JSON.stringify(next)), e.revision);
        return next;
      } catch (err) {
        if (!isMeridianError(err, ErrorCode.KvWrongRevision)) throw err;
      }
    }
    throw new MeridianError(ErrorCode.BusUnavailable, `dead letter ${JSON.stringify(id)}: ${CAS_ATTEMPTS} conflicting writes in a row`, { details: { id } });
  }

  async delete(id: string): Promise<boolean> {
    this.assertOpen();
    const e = await this.kv.get(kvToken(id));
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return false;
    await this.kv.delete(kvToken(id));
    return true;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }
}
