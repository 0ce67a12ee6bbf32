/** Error and close codes: ranges, uniqueness, and what a client should do after each. */
import { describe, expect, it } from 'vitest';
import { CloseCode, RequestError, closeName, errorFrame, isReconnectClose, isRequestErrorCode, isRetryable, isTerminalClose, requestErrorName, wireErrorName } from '../../src/protocol/mod.js';
import type { CloseName, RequestErrorName } from '../../src/protocol/mod.js';

describe('codes', () => {
  it('request errors are unique and in 4000-4099', () => {
    const codes = Object.values(RequestError);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, code] of Object.entries(RequestError)) {
      expect(code).toBeGreaterThanOrEqual(4000);
      expect(code).toBeLessThanOrEqual(4099);
      expect(isRequestErrorCode(code)).toBe(true);
      expect(requestErrorName(code)).toBe(name);
      expect(isReconnectClose(code) || isTerminalClose(code)).toBe(false);
    }
  });

  it('close codes are unique, reconnect ones in 4500-4749 and terminal ones in 4750-4999', () => {
    const codes = Object.values(CloseCode);
    expect(new Set(codes).size).toBe(codes.length);
    const reconnect: CloseName[] = ['SERVER_DRAINING', 'SLOW_CONSUMER', 'HEARTBEAT_TIMEOUT', 'INTERNAL', 'AUTH_TIMEOUT', 'REGION_UNAVAILABLE'];
    const terminal: CloseName[] = ['AUTH_FAILED', 'RESIDENCY_MISMATCH', 'TOKEN_EXPIRED', 'PROTOCOL_VERSION', 'POLICY_VIOLATION'];
    expect(new Set([...reconnect, ...terminal])).toEqual(new Set(Object.keys(CloseCode)));
    for (const n of reconnect) expect([isReconnectClose(CloseCode[n]), isTerminalClose(CloseCode[n])]).toEqual([true, false]);
    for (const n of terminal) expect([isReconnectClose(CloseCode[n]), isTerminalClose(CloseCode[n])]).toEqual([false, true]);
    for (const n of [...reconnect, ...terminal]) expect(closeName(CloseCode[n])).toBe(n);
  });

  it('classifies unknown codes by range and standard codes by meaning', () => {
    expect(isReconnectClose(4600)).toBe(true);
    expect(isTerminalClose(4900)).toBe(true);
    expect(closeName(4600)).toBeUndefined();
    expect([1001, 1006, 1011, 1012, 1013].every(isReconnectClose)).toBe(true);
    expect([1002, 1003, 1007, 1008, 1009].every(isTerminalClose)).toBe(true);
    expect(isReconnectClose(1000) || isTerminalClose(1000)).toBe(false);
  });

  it('only transient request errors are retryable', () => {
    const retryable = (Object.keys(RequestError) as RequestErrorName[]).filter(isRetryable);
    expect(retryable.sort()).toEqual(['INTERNAL_ERROR', 'RATE_LIMITED', 'TIMEOUT', 'UNAVAILABLE']);
    expect(errorFrame('RATE_LIMITED', 'slow down', { retryAfterMs: 100, ref: 'x' })).toEqual({
      type: 'error', code: 4030, name: 'RATE_LIMITED', message: 'slow down', retryable: true, ref: 'x', retryAfterMs: 100,
    });
  });

  it('maps internal error codes onto wire errors', () => {
    expect(wireErrorName('LOG_DUPLICATE_GONE')).toBe('DUPLICATE_GONE');
    expect(wireErrorName('LOG_UNAVAILABLE')).toBe('UNAVAILABLE');
    expect(wireErrorName('BUS_TIMEOUT')).toBe('TIMEOUT');
    expect(wireErrorName('SOMETHING_NEW')).toBe('INTERNAL_ERROR');
    expect(wireErrorName(undefined)).toBe('INTERNAL_ERROR');
  });
});
