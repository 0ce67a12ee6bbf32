/**
 * The registry on the embedded bus: the shared multi-region suite, plus what is easier to pin
 * down in one process: validation reports, an eviction that lands before a heartbeat, and panic
 * mode.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import type { MeridianError } from '../../src/errors/mod.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { Registry, registrationProblems } from '../../src/services/mod.js';
import { REGIONS, latencyMs, waitFor } from '../bus/nats-env.js';
import { runRegistrySuite, worker } from './registry-suite.js';

const PLACES = REGIONS.map((name, i) => ({ name, lat: i * 10, lon: i * 10 }));

runRegistrySuite({
  name: 'embedded',
  create() {
    const net = new EmbeddedNetwork(PLACES, { latencyMs });
    const buses = new Map(REGIONS.map((r) => [r as string, net.connect(r)]));
    return Promise.resolve({
      regions: REGIONS,
      rtt: (a: string, b: string) => net.linkLatencyMs(a, b),
      bus: (r: string) => buses.get(r)!,
      kill: (r: string) => Promise.resolve(net.kill(r)),
      revive: (r: string) => Promise.resolve(net.revive(r)),
      close: () => net.close(),
    });
  },
});

describe('registry (embedded only)', () => {
  let net: EmbeddedNetwork | undefined;
  const regs: Registry[] = [];
  afterEach(async () => {
    await Promise.all(regs.splice(0).map((r) => r.close()));
    await net?.close();
    net = undefined;
  });
  const open = async (region: string, opts: Partial<Parameters<typeof Registry.open>[0]> = {}): Promise<Registry> => {
    net ??= new EmbeddedNetwork(PLACES, { latencyMs });
    const r = await Registry.open({ bus: net.connect(region), rtt: (a, b) => net!.linkLatencyMs(a, b), ...opts });
    regs.push(r);
    return r;
  };

  it('reports every problem of a registration in one typed error', async () => {
    const reg = await open('us-east', { regions: REGIONS, functions: ['resize'] });
    const bad = {
      id: 'bad id',
      region: 'mars',
      services: [
        { name: 'llm', url: 'ftp://10.0.0.1/x' },
        { name: 'llm', url: 'http://user:secret@10.0.0.2:8000' },
        { name: '', url: 'not a url', weight: -1 },
        { name: 'tts', url: 'https://10.0.0.3/?q=1', meta: { gpu: 3 } },
      ],
      functions: [{ name: 'resize' }, { name: 'transcode' }, { name: 'resize' }],
    };
    const err = await reg.register(bad as never).catch((e: unknown) => e);
    expect(isMeridianError(err, ErrorCode.SvcInvalidRegistration)).toBe(true);
    const paths = ((err as MeridianError).details['problems'] as Array<{ path: string }>).map((p) => p.path);
    expect(paths).toEqual([
      'id',
      'region',
      'services[0].url',
      'services[1].name',
      'services[1].url',
      'services[2].name',
      'services[2].url',
      'services[2].weight',
      'services[3].url',
      'services[3].meta.gpu',
      'functions[1].name',
      'functions[2].name',
    ]);
    expect((err as Error).message).toContain('duplicate service name "llm"');
    expect((err as Error).message).toContain('unknown function "transcode"');
    expect((err as Error).message).toContain('must not contain credentials');
    // Without a catalogue, any well-formed function name is accepted.
    expect(registrationProblems({ ...worker('ok', 'us-east'), functions: [{ name: 'anything' }] })).toEqual([]);
    expect(reg.workers()).toEqual([]);
    const hb = await reg.heartbeat('x', { inFlight: -1 }).catch((e: unknown) => e);
    expect(isMeridianError(hb, ErrorCode.SvcInvalidRegistration)).toBe(true);
  });

  it("a heartbeat that arrives after its bucket's eviction is told to register again; other regions never evict", async () => {
    let skew = 0;
    const now = (): number => Date.now() + skew;
    const home = await open('us-east', { sweepIntervalMs: 0 });
    const evictor = await open('us-east', { sweepIntervalMs: 0, now });
    const far = await open('ap-southeast', { sweepIntervalMs: 0, now, regions: REGIONS });
    await home.register(worker('w1', 'us-east'));
    await waitFor(() => evictor.worker('w1') !== undefined && far.worker('w1') !== undefined, 'w1 seen');
    skew = 10 * 60_000;
    // Far away, w1 looks silent for ten minutes: dropped from that view, but not evicted there.
    expect(far.worker('w1')).toBeUndefined();
    expect(await far.sweep()).toBe(0);
    expect(far.stats()).toMatchObject({ evictions: 0, evictionConflicts: 0 });
    // In its region, the eviction's CAS is sent first, so it lands first: the heartbeat finds
    // the tombstone and the worker must register again.
    const [evicted, beat] = await Promise.all([evictor.sweep(), home.heartbeat('w1', { inFlight: 1 }).catch((e: unknown) => e)]);
    expect(evicted).toBe(1);
    expect(isMeridianError(beat, ErrorCode.SvcUnknownWorker)).toBe(true);
    await waitFor(() => home.worker('w1') === undefined, 'the tombstone in the home view');
    await home.register(worker('w1', 'us-east'));
    skew = 0;
    await waitFor(() => far.worker('w1')?.health === 'healthy', 'w1 registered again, seen far away');
  });

  it('offers stale workers (flagged) only in panic mode, when most of the fleet looks silent', async () => {
    let skew = 0;
    const reg = await open('eu-west', { sweepIntervalMs: 0, now: () => Date.now() + skew });
    const strict = await open('eu-west', { sweepIntervalMs: 0, panicThreshold: 0, now: () => Date.now() + skew });
    await reg.register(worker('only', 'eu-west'));
    await waitFor(() => strict.worker('only') !== undefined, 'seen');
    skew = 20_000; // past 15 s stale, before 60 s eviction
    expect(reg.stats()).toMatchObject({ workers: 1, stale: 1, panic: true });
    expect(reg.endpoints('echo').map((e) => [e.workerId, e.stale])).toEqual([['only', true]]);
    expect(strict.endpoints('echo')).toEqual([]);
    expect(reg.services()).toEqual([{ name: 'echo', endpoints: 1, healthy: 0, regions: ['eu-west'] }]);
  });

  it('rejects bad options', async () => {
    const err = await open('us-east', { heartbeatIntervalMs: 0, missedHeartbeats: 1.5, panicThreshold: 2 }).catch((e: unknown) => e);
    expect(isMeridianError(err, ErrorCode.InvalidArgument)).toBe(true);
    expect((err as Error).message).toMatch(/heartbeatIntervalMs.*missedHeartbeats.*panicThreshold/);
  });
});
