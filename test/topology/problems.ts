/** The problems a topology text is refused with (fails the test when it is accepted). */
import { expect } from 'vitest';
import { parseTopology, TopologyError } from '../../src/topology/mod.js';

export function problemsWithLines(text: string): Array<{ path: string; line: number; message: string }> {
  try {
    parseTopology(text, 'm.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    return (err as TopologyError).problems.map((p) => ({ path: p.path, line: p.line, message: p.message }));
  }
  throw new Error('expected the topology to be rejected');
}

export function problems(text: string): Array<{ path: string; message: string }> {
  return problemsWithLines(text).map(({ path, message }) => ({ path, message }));
}
