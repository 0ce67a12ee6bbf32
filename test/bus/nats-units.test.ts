/**
 * Server-free checks of the NATS bus's pure parts: how nats.js error classes map to Meridian
 * codes, and the status fan-out. These run even where nats-server is not installed.
 */
import { describe, expect, it } from 'vitest';
import { ClosedConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { mapNatsError } from '../../src/bus/nats/mod.js';
import { StatusFanout } from '../../src/bus/nats/status.js';
import type { BusStatus } from '../../src/bus/types.js';
import { MeridianError } from '../../src/errors/mod.js';

const apiError = (status: number, errCode: number, description: string): JetStreamApiError =>
  new JetStreamApiError({ code: status, err_code: errCode, description });

/** nats.js wraps a no-responders status in a RequestError; its JS API layer wraps that again. */
const noResponders = (): RequestError => new RequestError('no responders', { cause: new NoRespondersError('x') });
const jsNotEnabled = (): Error => {
  const e = new Error('jetstream is not enabled', { cause: noResponders() });
  e.name = 'JetStreamNotEnabled';
  return e;
};

describe('mapping nats.js errors to Meridian codes', () => {
  it('maps request failures by class, keeping the nats error as cause', () => {
    const nr = noResponders();
    const mapped = mapNatsError(nr, 'request', { subject: 'a.b' });
    expect(mapped.code).toBe('BUS_NO_RESPONDERS');
    expect(mapped.cause).toBe(nr);
    expect(mapped.details).toEqual({ subject: 'a.b' });
    expect(mapNatsError(new TimeoutError(), 'request').code).toBe('BUS_TIMEOUT');
    expect(mapNatsError(new ClosedConnectionError(), 'request').code).toBe('BUS_CLOSED');
    expect(mapNatsError(new RequestError('connection closed'), 'request', {}, true).code).toBe('BUS_CLOSED');
    expect(mapNatsError(new RequestError('connection disconnected'), 'flush').code).toBe('BUS_UNAVAILABLE');
  });

  it('reads no responders from the KV API as an unreachable home region', () => {
    expect(mapNatsError(noResponders(), 'kv').code).toBe('BUS_UNAVAILABLE');
    expect(mapNatsError(jsNotEnabled(), 'kv').code).toBe('BUS_UNAVAILABLE');
    expect(mapNatsError(new TimeoutError(), 'kv').code).toBe('BUS_TIMEOUT');
  });

  it('maps JetStream API error codes: wrong last sequence, unavailable, placement', () => {
    const wrongSeq = apiError(400, 10071, 'wrong last sequence: 4');
    expect(mapNatsError(wrongSeq, 'kv-update').code).toBe('KV_WRONG_REVISION');
    expect(mapNatsError(wrongSeq, 'kv-create').code).toBe('KV_KEY_EXISTS');
    expect(mapNatsError(apiError(503, 10008, 'JetStream system temporarily unavailable'), 'kv').code).toBe('BUS_UNAVAILABLE');
    expect(mapNatsError(apiError(500, 10118, 'stream is offline'), 'kv').code).toBe('BUS_UNAVAILABLE');
    expect(mapNatsError(apiError(400, 10005, 'no suitable peers for placement'), 'kv').code).toBe('BUS_UNKNOWN_REGION');
    expect(mapNatsError(apiError(400, 10005, 'no suitable peers for placement, peer offline'), 'kv').code).toBe('BUS_UNAVAILABLE');
  });

  it('never lets a raw error through', () => {
    const own = new MeridianError('KV_INVALID_KEY', 'bad key');
    expect(mapNatsError(own, 'kv')).toBe(own);
    const odd = mapNatsError('a string was thrown', 'kv');
    expect(odd).toBeInstanceOf(MeridianError);
    expect(odd.code).toBe('BUS_UNAVAILABLE');
  });
});

describe('status fan-out', () => {
  const ev = (type: 'disconnected' | 'reconnected'): BusStatus => ({ type, region: 'r' });

  async function drain(it: AsyncIterable<BusStatus>): Promise<string[]> {
    const out: string[] = [];
    for await (const s of it) out.push(s.type);
    return out;
  }

  it('gives every iterator the events emitted after it was created, then ends them all', async () => {
    const fan = new StatusFanout();
    fan.emit(ev('disconnected')); // nobody listens yet: lost
    const first = fan.iterable();
    fan.emit(ev('disconnected'));
    const second = fan.iterable();
    fan.emit(ev('reconnected'));
    fan.end();
    expect(await drain(first)).toEqual(['disconnected', 'reconnected']);
    expect(await drain(second)).toEqual(['reconnected']);
    expect(await drain(fan.iterable())).toEqual([]);
  });

  it('wakes a waiting reader and lets a reader leave early without affecting others', async () => {
    const fan = new StatusFanout();
    const quitter = fan.iterable();
    const stayer = fan.iterable();
    const pending = stayer.next();
    fan.emit(ev('disconnected'));
    expect(await pending).toEqual({ value: ev('disconnected'), done: false });
    await quitter.return?.();
    fan.emit(ev('reconnected'));
    expect(await quitter.next()).toEqual({ value: undefined, done: true });
    expect(await stayer.next()).toEqual({ value: ev('reconnected'), done: false });
    fan.end();
    expect(await stayer.next()).toEqual({ value: undefined, done: true });
  });
});
