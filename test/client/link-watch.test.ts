/**
 * The degraded-link rule of the election (link-watch.ts) on a manual clock: the baseline is the
 * median of the first samples, and only several samples in a row above both 3 × baseline and
 * baseline + 50 ms count; an unanswered sample counts as long as it has waited.
 */
import { describe, it, expect } from 'vitest';
import { DEFAULT_ELECTION } from '../../src/client/mod.js';
import { LinkWatch } from '../../src/client/link-watch.js';
import type { ClientFrame } from '../../src/protocol/mod.js';
import { FakeClock } from './fake-clock.js';

function setup(): { clock: FakeClock; watch: LinkWatch; written: ClientFrame[]; degraded: { baselineMs: number; lastMs: number }[]; answer: (ms: number) => void } {
  const clock = new FakeClock();
  const written: ClientFrame[] = [];
  const degraded: { baselineMs: number; lastMs: number }[] = [];
  let n = 0;
  const watch = new LinkWatch(clock, (p) => `${p}${++n}`, { ...DEFAULT_ELECTION, linkSampleMs: 1000 }, (d) => degraded.push(d));
  watch.start({ isOpen: true, write: (f) => (written.push(f), true) });
  /** Let the next sample go out and answer it after `ms`. */
  const answer = (ms: number): void => {
    const before = written.length;
    for (let i = 0; i < 2000 && written.length === before; i++) clock.advance(1);
    const f = written.at(-1) as { id: string };
    clock.advance(ms);
    expect(watch.pong(f.id)).toBe(true);
  };
  return { clock, watch, written, degraded, answer };
}

describe('link watch', () => {
  it('takes the median of the first three samples as the baseline', () => {
    const { watch, answer } = setup();
    answer(20);
    answer(90);
    answer(30);
    expect(watch.baselineMs).toBe(30);
  });

  it('calls a link degraded after three samples in a row above 3 × baseline and baseline + 50 ms', () => {
    const { degraded, answer } = setup();
    for (const ms of [20, 20, 20]) answer(ms);
    answer(200);
    answer(200);
    answer(40); // back to normal: the run starts over
    answer(200);
    answer(200);
    expect(degraded).toEqual([]);
    answer(200);
    expect(degraded).toEqual([{ baselineMs: 20, lastMs: 200 }]);
  });

  it('does not flag a tiny baseline tripling (1 → 4 ms) nor a far link gaining 60 ms (200 → 260)', () => {
    const a = setup();
    for (const ms of [1, 1, 1, 4, 4, 4, 4]) a.answer(ms);
    expect(a.degraded).toEqual([]);
    const b = setup();
    for (const ms of [200, 200, 200, 260, 260, 260, 260]) b.answer(ms);
    expect(b.degraded).toEqual([]);
  });

  it('counts a sample that was never answered as the time it waited', () => {
    const { clock, degraded, answer, written } = setup();
    for (const ms of [20, 20, 20]) answer(ms);
    const before = written.length;
    clock.advance(5000); // samples go out, nothing answers
    expect(written.length).toBeGreaterThan(before + 3);
    expect(degraded).toHaveLength(1);
    expect(degraded[0]!.lastMs).toBeGreaterThanOrEqual(1000);
  });

  it('ignores answers that are not its own samples', () => {
    const { watch } = setup();
    expect(watch.pong('h1')).toBe(false);
    expect(watch.pong(undefined)).toBe(false);
  });
});
