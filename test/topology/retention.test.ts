/**
 * The topology's `retention` section: shapes, cross-checks with their location, and the
 * per-conversation policy the message logs get from it (src/topology/retention.ts).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import { parseTopology, retentionPolicy, TopologyError } from '../../src/topology/mod.js';

const HEAD = `regions:
  - name: solo
    location: { lat: 10, lon: 20 }
    jurisdiction: US
`;

function problemsOf(text: string): string[] {
  try {
    parseTopology(text, 'm.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    expect((err as TopologyError).code).toBe(ErrorCode.TopologyInvalid);
    return (err as TopologyError).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
  }
  throw new Error('expected the topology to be rejected');
}

describe('topology retention', () => {
  it('keeps everything forever without a section: no policy for the logs', () => {
    const t = parseTopology(HEAD);
    expect(t.retention).toEqual({ conversations: [] });
    expect(retentionPolicy(t)).toBeUndefined();
  });

  it('turns rules into a per-conversation policy: first glob match wins, days in ms, no match keeps the log default', () => {
    const t = parseTopology(`${HEAD}retention:
  conversations:
    - { match: "room:support-*", maxAgeDays: 730, maxCount: 100000 }
    - { match: "room:*", maxCount: 500 }
    - { match: "dm:*", maxAgeDays: 0.5 }
`);
    const policy = retentionPolicy(t);
    expect(policy).toBeDefined();
    expect(policy?.('room:support-42')).toEqual({ maxAgeMs: 730 * 86_400_000, maxCount: 100_000 });
    expect(policy?.('room:lobby')).toEqual({ maxCount: 500 });
    expect(policy?.('dm:alice:bob')).toEqual({ maxAgeMs: 43_200_000 });
    expect(retentionPolicy(parseTopology(`${HEAD}retention: { conversations: [{ match: "room:x-*", maxCount: 3 }] }\n`))?.('dm:a:b')).toBeUndefined();
  });

  it('rejects rules without a limit, non-positive or fractional values, with their location', () => {
    expect(problemsOf(`${HEAD}retention:
  conversations:
    - { match: "room:a-*" }
    - { match: "room:b-*", maxAgeDays: 0 }
    - { match: "room:c-*", maxCount: -3 }
    - { match: "room:d-*", maxCount: 2.5 }
    - { match: "", maxCount: 1 }
    - { match: "room:e-*", maxCount: 1, maxAge: 3 }
`)).toEqual([
      '7:7 retention.conversations[0]: a retention rule needs maxAgeDays, maxCount or both',
      '8:40 retention.conversations[1].maxAgeDays: maxAgeDays must be more than 0',
      '9:38 retention.conversations[2].maxCount: maxCount must be at least 1',
      '10:38 retention.conversations[3].maxCount: maxCount must be a whole number',
      '11:16 retention.conversations[4].match: Too small: expected string to have >=1 characters',
      '12:49 retention.conversations[5].maxAge: unknown key "maxAge"',
    ]);
  });

  it('rejects patterns no conversation can match and rules after a catch-all', () => {
    expect(problemsOf(`${HEAD}retention:
  conversations:
    - { match: "support-*", maxCount: 1 }
    - { match: "*", maxAgeDays: 30 }
    - { match: "room:late-*", maxCount: 1 }
`)).toEqual([
      '7:16 retention.conversations[0].match: pattern "support-*" can match no conversation: ids look like "room:<room>" or "dm:<user>:<user>" (e.g. "room:support-*")',
      '9:16 retention.conversations[2].match: retention rule 2 ("room:late-*") can never match: rule 1 ("*") matches every conversation first',
    ]);
    // Patterns that start like a kind, or with a star, are fine.
    expect(() => parseTopology(`${HEAD}retention: { conversations: [{ match: "r*:vip", maxCount: 1 }, { match: "*:x", maxCount: 1 }, { match: "dm:*", maxCount: 1 }] }\n`)).not.toThrow();
  });
});
