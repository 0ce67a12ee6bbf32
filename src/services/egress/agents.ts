/**
 * The HTTP agents every connection to a worker goes through, each resolving names with the
 * egress policy's lookup for the port it connects to. Why not one `lookup` option on each agent
 * (what node:http and undici offer): a lookup is told the host name only, and refusing a region
 * node's own listener needs the port too (a worker on the node's host, another port, is fine).
 */
import { Agent as HttpAgent } from 'node:http';
import type { ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { Agent as UndiciAgent, buildConnector } from 'undici';
import type { EgressPolicy } from './policy.js';

const portOf = (options: ClientRequestArgs, fallback: number): number => (options.port === undefined || options.port === null || options.port === '' ? fallback : Number(options.port));

class EgressHttpAgent extends HttpAgent {
  constructor(private readonly egress: EgressPolicy) {
    super({ keepAlive: true });
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return super.createConnection({ ...options, lookup: this.egress.lookupFor(portOf(options, 80)) }, callback);
  }
}

class EgressHttpsAgent extends HttpsAgent {
  constructor(private readonly egress: EgressPolicy, options: HttpsAgentOptions = {}) {
    super({ keepAlive: true, ...options });
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return super.createConnection({ ...options, lookup: this.egress.lookupFor(portOf(options, 443)) }, callback);
  }
}

/** undici connects through a connector per port (a few: the workers' ports), each with its lookup. */
function undiciAgent(egress: EgressPolicy): UndiciAgent {
  const connectors = new Map<number, buildConnector.connector>();
  return new UndiciAgent({
    keepAliveTimeout: 4000,
    connect: (opts, callback) => {
      const port = opts.port === '' || opts.port === undefined ? (opts.protocol === 'https:' ? 443 : 80) : Number(opts.port);
      let c = connectors.get(port);
      if (c === undefined) {
        if (connectors.size >= 1000) connectors.clear();
        c = buildConnector({ timeout: 5000, lookup: egress.lookupFor(port) });
        connectors.set(port, c);
      }
      c(opts, callback);
    },
  });
}

export function egressAgents(egress: EgressPolicy): { http: HttpAgent; https: HttpsAgent; undici: UndiciAgent } {
  return { http: new EgressHttpAgent(egress), https: new EgressHttpsAgent(egress), undici: undiciAgent(egress) };
}
