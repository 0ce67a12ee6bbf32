/**
 * `npm run chaos -- [--schedules N] [--seed S] [--bus embedded|nats] [--length L]`: run N fault
 * schedules (seeds S, S+1, …; default a random start), each on a fresh deployment, and print every
 * failing seed with its schedule and problems. Exit 1 when any schedule failed.
 */
import { parseArgs } from 'node:util';
import { embeddedChaos, natsChaos } from './deployments.js';
import { runSchedule } from './schedule.js';

const { values } = parseArgs({ options: { schedules: { type: 'string', default: '10' }, seed: { type: 'string' }, bus: { type: 'string', default: 'embedded' }, length: { type: 'string', default: '6' } } });
const count = Number(values.schedules);
const first = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const length = Number(values.length);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(first) || !Number.isInteger(length) || length < 1 || (values.bus !== 'embedded' && values.bus !== 'nats')) {
  process.stderr.write('usage: npm run chaos -- [--schedules N] [--seed S] [--bus embedded|nats] [--length L]\n');
  process.exit(2);
}
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
const failing: number[] = [];
for (let i = 0; i < count; i++) {
  const seed = first + i;
  const d = values.bus === 'nats' ? await natsChaos() : await embeddedChaos();
  try {
    const r = await runSchedule(d, seed, { length });
    const verdict = r.problems.length === 0 ? 'ok' : 'FAIL';
    process.stdout.write(`seed ${seed}: ${verdict} (${r.acked} acked, ${r.failed} refused, takeovers: ${r.takeovers.join(' ') || 'none'}) ${JSON.stringify(r.schedule)}\n`);
    if (r.problems.length > 0) {
      failing.push(seed);
      for (const p of r.problems.slice(0, 20)) process.stdout.write(`  ${p}\n`);
    }
  } finally {
    await d.close();
  }
}
process.stdout.write(failing.length === 0 ? `chaos: ${count} schedules, all ok\n` : `chaos: ${failing.length} of ${count} failed; replay with --seed and --schedules 1: ${failing.join(', ')}\n`);
process.exit(failing.length === 0 ? 0 : 1);
