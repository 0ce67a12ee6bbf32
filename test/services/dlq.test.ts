/** The DLQ suite on SQLite (a file in a temp dir) and on the bus KV of the embedded network. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { KvDeadLetterQueue, SqliteDeadLetterQueue } from '../../src/services/mod.js';
import { REGIONS, latencyMs } from '../bus/nats-env.js';
import { runDlqSuite } from './dlq-suite.js';

runDlqSuite({
  name: 'sqlite',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'mrd-dlq-'));
    const file = join(dir, 'nested', 'dlq.sqlite');
    const dlq = new SqliteDeadLetterQueue(file);
    const others: SqliteDeadLetterQueue[] = [];
    return Promise.resolve({
      dlq,
      reopen: () => {
        const o = new SqliteDeadLetterQueue(file);
        others.push(o);
        return Promise.resolve(o);
      },
      async close() {
        await dlq.close();
        await Promise.all(others.map((o) => o.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    });
  },
});

let bucket = 0;
runDlqSuite({
  name: 'kv (embedded bus)',
  async create() {
    const net = new EmbeddedNetwork(REGIONS.map((name, i) => ({ name, lat: i, lon: i })), { latencyMs });
    const b = `mrd-dlq-test-${++bucket}`;
    const dlq = await KvDeadLetterQueue.open({ bus: net.connect('eu-west'), bucket: b });
    return {
      dlq,
      // Another region reads the same bucket (it lives in eu-west).
      reopen: () => KvDeadLetterQueue.open({ bus: net.connect('us-east'), bucket: b, region: 'eu-west' }),
      close: () => net.close(),
    };
  },
});
