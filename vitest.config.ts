import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Structured logs (pino) would bury the test report: errors only, unless asked for.
    env: { MERIDIAN_LOG_LEVEL: process.env['MERIDIAN_LOG_LEVEL'] ?? 'error' },
    hookTimeout: 60_000,
    // Suites that start nats-server super-clusters are heavy on a 2-core machine: run files one or
    // two at a time so timing-sensitive assertions (failover, TTL) are not starved.
    maxWorkers: 2,
    // The JSON report feeds the one-line summary CI prints (scripts/test-summary.mjs).
    reporters: ['default', 'json'],
    outputFile: { json: '.test-results/vitest.json' },
  },
});
