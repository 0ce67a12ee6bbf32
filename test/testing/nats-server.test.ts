import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServerProcess,
  findNatsServer,
  freePorts,
  gatewayConnectName,
  parseGoDurationMs,
  renderNatsConfig,
  requireNatsServer,
  startNatsServer,
} from '../../src/testing/mod.js';

describe('nats-server harness', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('finds the binary on PATH or /usr/sbin, and honours MERIDIAN_NATS_SERVER', () => {
    expect(findNatsServer()).toMatch(/nats-server$/);
    vi.stubEnv('MERIDIAN_NATS_SERVER', '/nonexistent/nats-server');
    expect(findNatsServer()).toBeNull();
    try {
      requireNatsServer();
      expect.unreachable();
    } catch (err) {
      expect(isMeridianError(err, ErrorCode.NotAvailable)).toBe(true);
      expect((err as { details: { hint: string } }).details.hint).toBe(NATS_SERVER_INSTALL_HINT);
      expect(NATS_SERVER_INSTALL_HINT).toContain('apt-get install nats-server');
    }
  });

  it('starts a standalone JetStream server, keeps its streams across restart(), and cleans up on close()', async () => {
    const server = await startNatsServer();
    try {
      const nc = await connect({ servers: server.url, reconnectTimeWait: 100 });
      const jsm = await jetstreamManager(nc, { timeout: 1000 });
      await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
      nc.publish('s.1', 'x');
      await nc.flush();
      await server.restart();
      let messages = -1;
      for (let i = 0; i < 100 && messages !== 1; i++) {
        messages = await jsm.streams.info('S').then((si) => si.state.messages, () => -1);
        if (messages !== 1) await new Promise((r) => setTimeout(r, 100));
      }
      expect(messages).toBe(1);
      await nc.close();
    } finally {
      await server.close();
    }
    expect(existsSync(server.dir)).toBe(false);
    await server.close(); // idempotent
  });

  it('fails fast on a bad config, with the log tail in the error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-bad-'));
    try {
      const [httpPort] = await freePorts(1);
      const configFile = join(dir, 'bad.conf');
      await writeFile(configFile, 'listen: 127.0.0.1:1\nthis is { not valid\n');
      const proc = new NatsServerProcess({ configFile, logFile: join(dir, 'bad.log'), httpUrl: `http://127.0.0.1:${httpPort}` });
      const started = Date.now();
      await expect(proc.start(20_000)).rejects.toThrow(/exited with code 1[\s\S]*log tail/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(proc.running).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('renders configs with quoted strings and the gateway list', () => {
    const text = renderNatsConfig({
      serverName: 'eu-west',
      port: 4222,
      httpPort: 8222,
      tags: ['region:eu-west'],
      jetstreamStoreDir: '/tmp/a b',
      cluster: { name: 'eu-west', port: 6222, routes: ['nats://127.0.0.1:6222'] },
      gateway: { name: 'eu-west', port: 7222, gateways: [{ name: 'us-east', urls: ['nats://127.0.0.1:7000'] }] },
    });
    expect(text).toContain('server_tags: ["region:eu-west"]');
    expect(text).toContain('store_dir: "/tmp/a b"');
    expect(text).toContain('{ name: "us-east", urls: ["nats://127.0.0.1:7000"] }');
  });

  it('parses Go durations and gateway CONNECT lines', () => {
    expect(parseGoDurationMs('99.912ms')).toBeCloseTo(99.912);
    expect(parseGoDurationMs('1.5s')).toBe(1500);
    expect(parseGoDurationMs('1m2s')).toBe(62_000);
    expect(parseGoDurationMs('250µs')).toBeCloseTo(0.25);
    expect(parseGoDurationMs('0s')).toBe(0);
    expect(parseGoDurationMs('soon')).toBeNaN();

    expect(gatewayConnectName(Buffer.from('CONNECT {"gateway":"us-e'))).toBeUndefined();
    expect(gatewayConnectName(Buffer.from('CONNECT {"echo":false,"gateway":"us-east"}\r\nPING\r\n'))).toBe('us-east');
    expect(gatewayConnectName(Buffer.from('GET / HTTP/1.1\r\n'))).toBeNull();
    expect(gatewayConnectName(Buffer.from('CONNECT {"verbose":false}\r\n'))).toBeNull();
  });
});
