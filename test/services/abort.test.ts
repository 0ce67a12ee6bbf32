/**
 * `Cancel` (src/services/policy/abort.ts), the proxy's stand-in for an AbortController: the same
 * contract as an AbortSignal where the call path relies on it. Listeners run once, in order, at
 * the abort (never when removed or added after it); `signal` is a real AbortSignal that follows
 * it whether made before or after the abort; and undici, which the proxy hands it to, really
 * cancels a request with it (a real server that never answers).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { Cancel } from '../../src/services/policy/abort.js';

describe('Cancel', () => {
  it('calls its listeners once, in order, at the abort; removed and late ones never', () => {
    const c = new Cancel();
    const seen: string[] = [];
    const a = (): void => void seen.push('a');
    const b = (): void => void seen.push('b');
    const gone = (): void => void seen.push('gone');
    c.addEventListener('abort', a);
    c.addEventListener('abort', gone);
    c.addEventListener('abort', b);
    c.removeEventListener('abort', gone);
    expect(c.aborted).toBe(false);
    c.abort();
    c.abort();
    expect(seen).toEqual(['a', 'b']);
    expect(c.aborted).toBe(true);
    expect((c.reason as DOMException).name).toBe('AbortError');
    c.addEventListener('abort', () => seen.push('late'));
    expect(seen).toEqual(['a', 'b']);
  });

  it('keeps the order when the first listener was removed before others came', () => {
    const c = new Cancel();
    const seen: number[] = [];
    const one = (): void => void seen.push(1);
    c.addEventListener('abort', one);
    c.removeEventListener('abort', one);
    c.addEventListener('abort', () => seen.push(2));
    c.addEventListener('abort', () => seen.push(3));
    c.abort();
    expect(seen).toEqual([2, 3]);
  });

  it('gives a real AbortSignal that follows it, made before or after the abort', () => {
    const before = new Cancel();
    const s = before.signal;
    expect(s).toBeInstanceOf(AbortSignal);
    expect(before.signal).toBe(s);
    let heard = false;
    s.addEventListener('abort', () => (heard = true));
    before.abort(new Error('why'));
    expect(s.aborted).toBe(true);
    expect(heard).toBe(true);
    expect((s.reason as Error).message).toBe('why');
    const after = new Cancel();
    after.abort();
    expect(after.signal.aborted).toBe(true);
  });

  it('cancels a real undici request, as the proxy uses it', async () => {
    const server = createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const agent = new Agent();
    try {
      const c = new Cancel();
      const pending = agent.request({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, path: '/', method: 'GET', signal: c });
      setTimeout(() => c.abort(), 50);
      const t0 = Date.now();
      const err = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await agent.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
