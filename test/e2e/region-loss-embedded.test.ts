/**
 * The region-loss suite on the embedded bus (every region in this process, the default
 * topology's WAN delays), plus the checker's own test: it must catch what it is there to catch.
 */
import { describe, expect, it } from 'vitest';
import { embeddedFactory } from './deployments.js';
import { checkHistory, regionLossSuite } from './region-loss-suite.js';

regionLossSuite('embedded bus, default topology', embeddedFactory, { settleMs: 500, lossMs: 1500 });

describe('the history checker', () => {
  const m = (seq: number, id: string, body = 'x'): { seq: number; messageId: string; from: string; body: unknown } => ({ seq, messageId: id, from: 'a', body });
  const acked = [
    { conversation: 'c', from: 'a', body: 'x', seq: 1, messageId: 'm1' },
    { conversation: 'c', from: 'a', body: 'x', seq: 2, messageId: 'm2' },
  ];
  it('accepts a valid history', () => {
    expect(checkHistory(acked, new Map([['c', [m(1, 'm1'), m(2, 'm2')]]]))).toEqual([]);
  });
  it('accepts one jump of exactly the epoch gap (a failover), not two, and no other hole', () => {
    const two = [{ ...acked[0]! }, { ...acked[1]!, seq: 102 }];
    expect(checkHistory(two, new Map([['c', [m(1, 'm1'), m(102, 'm2')]]]), 100)).toEqual([]);
    const three = [...two, { conversation: 'c', from: 'a', body: 'x', seq: 203, messageId: 'm3' }];
    expect(checkHistory(three, new Map([['c', [m(1, 'm1'), m(102, 'm2'), m(203, 'm3')]]]), 100)).toEqual(['c: seq 203 at position 3 (not dense)']);
  });

  it('finds a lost ack, a duplicate, a hole, a moved seq, a phantom and a reordered sender', () => {
    expect(checkHistory(acked, new Map([['c', [m(1, 'm1')]]]))).toEqual(['c: acked m2 (seq 2) is lost']);
    expect(checkHistory(acked, new Map([['c', [m(1, 'm1'), m(2, 'm2'), m(3, 'm2')]]]))).toEqual(['c: m2 stored 2 times']);
    expect(checkHistory(acked, new Map([['c', [m(1, 'm1'), m(3, 'm2')]]]))).toEqual(['c: seq 3 at position 2 (not dense)', 'c: acked m2 at seq 2, stored at 3']);
    expect(checkHistory(acked, new Map([['c', [m(1, 'm1'), m(2, 'm2'), m(3, 'zz')]]]))).toEqual(['c: zz stored but never sent']);
    const reordered = [
      { ...acked[0]!, seq: 2 },
      { ...acked[1]!, seq: 1 },
    ];
    expect(checkHistory(reordered, new Map([['c', [m(1, 'm2'), m(2, 'm1')]]]))).toEqual(["c: a's sends out of order: 2,1"]);
  });
});
