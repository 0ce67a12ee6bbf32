/** The `services:` and `functions:` sections of meridian.yaml (policies, placement, routing). */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/mod.js';
import { problems } from './problems.js';

const REGIONS = `regions:
  - name: us-east
    location: { lat: 39, lon: -77 }
    jurisdiction: US
  - name: eu-west
    location: { lat: 53, lon: -6 }
    jurisdiction: EU
`;


describe('topology: services and functions', () => {
  it('accepts policies, placement and routing, with defaults filled in', () => {
    const t = parseTopology(`${REGIONS}services:
  llm:
    policy:
      timeoutMs: 60000
      retries: { max: 1 }
      breaker: { mode: sampling, threshold: 0.3 }
      bulkhead: { maxConcurrent: 64 }
functions:
  resize:
    placement: { us-east: 2, eu-west: 1 }
  chat-turn:
    routing: affinity
    affinityKey: conversation
    async: { maxAttempts: 5 }
    policy: { timeoutMs: 5000 }
`);
    expect(t.services?.['llm']?.policy).toMatchObject({ timeoutMs: 60000, retries: { max: 1 }, breaker: { mode: 'sampling', threshold: 0.3 } });
    expect(t.functions?.['resize']).toEqual({ placement: { 'us-east': 2, 'eu-west': 1 }, routing: 'geographic', affinityKey: 'partitionkey', async: { maxAttempts: 3, backoffMs: 200 } });
    expect(t.functions?.['chat-turn']).toMatchObject({ routing: 'affinity', affinityKey: 'conversation', async: { maxAttempts: 5, backoffMs: 200 }, policy: { timeoutMs: 5000 } });
  });

  it('files without the sections stay valid', () => {
    const t = parseTopology(REGIONS);
    expect(t.services).toBeUndefined();
    expect(t.functions).toBeUndefined();
  });

  it('reports every problem of the sections at once, with paths', () => {
    const ps = problems(`${REGIONS}services:
  "bad name!": {}
  llm:
    policy:
      timeoutMs: -1
      retrys: { max: 1 }
      breaker: { mode: sometimes }
functions:
  resize:
    placement: { us-east: -1, mars: 1 }
    routing: random
    affinityKey: Conversation-Id
`);
    const paths = ps.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'services.bad name!',
        'services.llm.policy.timeoutMs',
        'services.llm.policy.retrys',
        'services.llm.policy.breaker.mode',
        'functions.resize.placement.us-east',
        'functions.resize.routing',
        'functions.resize.affinityKey',
        'functions.resize.placement.mars',
      ]),
    );
    expect(ps.find((p) => p.path === 'functions.resize.placement.mars')!.message).toContain('unknown region "mars"');
  });
});
