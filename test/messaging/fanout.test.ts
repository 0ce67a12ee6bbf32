/**
 * The fan-out's gap timer on the embedded bus: a fill that leaves another hole further on arms
 * the timer again, so held messages never wait for an arrival that may not come. (The basic
 * order restoring is in embedded.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { subjects } from '../../src/bus/subjects.js';
import { Fanout } from '../../src/messaging/fanout.js';
import { encodeMessage } from '../../src/messaging/mod.js';
import type { StoredMessage } from '../../src/messaging/mod.js';
import { eventually } from './suite.js';

const msg = (seq: number): StoredMessage => ({ conversation: 'room:r', seq, messageId: `m${seq}`, from: 'u', to: { room: 'r' }, body: seq, timestamp: 1, region: 'x' });

describe('fan-out gap timer', () => {
  it('re-arms for a second hole left after the first fill, without a new arrival', async () => {
    const network = new EmbeddedNetwork([{ name: 'x', lat: 0, lon: 0 }]);
    const bus = network.connect('x');
    // The log has every seq; live delivery lost 2 and 4.
    const fills: Array<[number, number]> = [];
    const fanout = new Fanout(
      bus,
      (_c, after, upTo) => {
        fills.push([after, upTo]);
        return Promise.resolve([1, 2, 3, 4, 5].filter((s) => s > after && s <= upTo).map(msg));
      },
      30,
    );
    const got: number[] = [];
    const stop = fanout.on(subjects.room('r'), (d) => got.push(d.seq));
    const pub = (seq: number): void => bus.publish(subjects.room('r'), new TextEncoder().encode(encodeMessage(msg(seq))));
    try {
      pub(1);
      pub(3);
      pub(5);
      // Nothing else is published: 5 is released only if the timer is armed again after 2 is filled.
      await eventually(() => got.length === 5, 'all five, with no later arrival', 2000);
      expect(got).toEqual([1, 2, 3, 4, 5]);
      // One fill per hole, each bounded by the held message above it.
      expect(fills).toEqual([
        [1, 2],
        [3, 4],
      ]);
    } finally {
      stop();
      fanout.close();
      await bus.close();
      await network.close();
    }
  });
});
