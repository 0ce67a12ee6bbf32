/**
 * Who may connect to the planned NATS servers: NKEY users (a seed the client holds, a public key
 * in the server config; the server sends a nonce and the client signs it, so no password is ever
 * on the wire or in a config). One user per region node, in the MERIDIAN account (JetStream on),
 * and one operator user in the system account (SYS) for monitoring and `nats server` commands.
 *
 * No JWT operator/resolver: accounts are static and the same on every server, which gateways
 * require (a gateway carries an account's traffic only to servers that know that account).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { KeyPair } from '@nats-io/nkeys';
import type { PlanContext, PlannedFile } from '../types.js';

export const APP_ACCOUNT = 'MERIDIAN';
export const SYSTEM_ACCOUNT = 'SYS';

export interface NatsUser {
  /** `<region>-node` or `system`. */
  readonly name: string;
  readonly account: string;
  readonly publicKey: string;
  readonly seed: string;
  /** The file (in the output directory) holding the seed. */
  readonly file: string;
}

function user(ctx: Pick<PlanContext, 'secrets'>, name: string, account: string): NatsUser {
  const kp = ctx.secrets.get<KeyPair>(`nats/user/${name}`, () => createUser());
  return { name, account, publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()), file: `nats/users/${name}.nk` };
}

function userNames(ctx: Pick<PlanContext, 'topology'>): string[] {
  return [...ctx.topology.regions.map((r) => `${r.name}-node`), 'system'];
}

/**
 * Re-planning into a previous plan's directory (`--force`) keeps the NKEY seeds it finds there,
 * so deployed region nodes keep working; delete a `.nk` file to rotate that user. Returns the
 * users reused.
 */
export async function reuseSeeds(ctx: Pick<PlanContext, 'secrets' | 'topology' | 'outDir'>): Promise<string[]> {
  const reused: string[] = [];
  for (const name of userNames(ctx)) {
    const file = join(ctx.outDir, 'nats', 'users', `${name}.nk`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    let kp: KeyPair;
    try {
      kp = fromSeed(new TextEncoder().encode(text.trim()));
      if (!kp.getPublicKey().startsWith('U')) throw new Error('not a user seed');
    } catch {
      // The content is a secret: name the file, never echo it.
      throw new MeridianError(ErrorCode.InvalidArgument, `${file} does not hold an NKEY user seed (delete it to make a new one)`, { details: { file } });
    }
    ctx.secrets.get<KeyPair>(`nats/user/${name}`, () => kp);
    reused.push(name);
  }
  return reused;
}

/** Every user of the plan: the region nodes' in topology order, then the system user. */
export function natsUsers(ctx: Pick<PlanContext, 'secrets' | 'topology'>): NatsUser[] {
  return [...ctx.topology.regions.map((r) => user(ctx, `${r.name}-node`, APP_ACCOUNT)), user(ctx, 'system', SYSTEM_ACCOUNT)];
}

/** The seed files (secret). */
export function userFiles(users: readonly NatsUser[]): PlannedFile[] {
  return users.map((u) => ({
    path: u.file,
    content: `${u.seed}\n`,
    secret: true,
    about:
      u.account === SYSTEM_ACCOUNT
        ? 'NKEY seed of the system-account user: operators only (nats CLI `--nkey`), for /varz-style requests over NATS'
        : `NKEY seed of the ${u.name.replace(/-node$/, '')} region nodes: ${'/etc/meridian/nats/node.nk'} on each (\`meridian region --nats-nkey\`)`,
  }));
}

const q = (s: string): string => JSON.stringify(s);

/** The `accounts {}` block and `system_account`, identical on every server. */
export function renderAccounts(users: readonly NatsUser[]): string[] {
  const of = (account: string): string[] =>
    users.filter((u) => u.account === account).map((u) => `      { nkey: ${q(u.publicKey)} }  # ${u.name}`);
  return [
    'accounts {',
    `  ${APP_ACCOUNT}: {`,
    '    jetstream: enabled',
    '    users: [',
    ...of(APP_ACCOUNT),
    '    ]',
    '  }',
    `  ${SYSTEM_ACCOUNT}: {`,
    '    users: [',
    ...of(SYSTEM_ACCOUNT),
    '    ]',
    '  }',
    '}',
    `system_account: ${q(SYSTEM_ACCOUNT)}`,
  ];
}
