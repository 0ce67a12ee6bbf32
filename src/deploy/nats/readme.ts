/** The NATS section of the plan's README.md: how to install and check what the NATS generator wrote. */
import type { PlanContext } from '../types.js';
import { APP_ACCOUNT, SYSTEM_ACCOUNT } from './accounts.js';
import { natsLayout, NODE_CA_FILE, NODE_NKEY_FILE, SERVER_CONFIG, SERVER_STORE_DIR, SERVER_TLS_DIR } from './layout.js';

export function natsReadme(ctx: PlanContext): string {
  const layout = natsLayout(ctx);
  const p = ctx.topology.deploy.nats.ports;
  const rows = layout.map((s) => `| ${s.host.name} | ${s.region} | ${s.clientUrl} | ${s.routeUrl} | ${s.gatewayUrl} | ${s.monitorUrl} |`);
  const local = ctx.local !== undefined;
  const provided = ctx.topology.deploy.nats.tls !== undefined;
  return [
    '## NATS super-cluster',
    '',
    `${layout.length} servers; each region is one NATS cluster (its name is the region's) and every region is joined to every other by gateways. JetStream runs on every server; its meta group spans the whole super-cluster, so it needs a majority of all ${layout.length} servers (an odd total keeps a majority when a region is cut off in two).`,
    '',
    '| server | region | clients | routes | gateways | monitoring |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    '### Security',
    '',
    `- **Clients** (region nodes) must use TLS and log in as an NKEY user: the server keeps only the public key (in each config's \`accounts\`), the node holds the seed (\`nats/users/<region>-node.nk\`). Node users live in the \`${APP_ACCOUNT}\` account (JetStream enabled); \`nats/users/system.nk\` is the \`${SYSTEM_ACCOUNT}\` system account's user, for operators (\`nats --server ... --tlsca tls/ca.pem --nkey nats/users/system.nk server list\`).`,
    `- **Routes and gateways** use mutual TLS (\`verify: true\`): a server joins its cluster or the super-cluster only with a certificate signed by ${provided ? 'your CA (deploy.nats.tls)' : 'the plan CA (`tls/ca.pem`)'}. There are no route or gateway passwords. Each server advertises its planned address, which its certificate names.`,
    ctx.topology.deploy.vpn.kind === 'none' || local
      ? `- Monitoring (port ${local ? 'see table' : p.monitor}) has no authentication: keep it on a private network or firewall it (every listener binds ${local ? '127.0.0.1' : '0.0.0.0'}).`
      : '- Every listener binds the server\'s overlay IP only, so NATS (and its unauthenticated monitoring port) is reachable only through the VPN, where the Nebula firewall opens the monitoring port to the ops hosts only (`meridian-ops`, see vpn/README.md): start `nats-server` after Nebula is up (systemd: `After=` and `Requires=` the nebula unit).',
    '',
    '### Install',
    '',
    local
      ? [
          'This is a `--local` plan: every server is on 127.0.0.1 and every path points into this directory. Start each server with `nats-server -c nats/<host>.conf` (JetStream stores go under `data/`), then check `curl <monitoring>/gatewayz` and `/jsz`. A region node:',
          '',
          '```sh',
          `set -a; . ./nodes/${ctx.topology.regions[0]?.name ?? '<region>'}.env; set +a`,
          'meridian region "$MERIDIAN_REGION" --bus nats --dev',
          '```',
        ].join('\n')
      : [
          `On each NATS server host \`<host>\`: copy \`nats/<host>.conf\` to \`${SERVER_CONFIG}\`; \`tls/ca.pem\`, \`tls/<host>.pem\` and \`tls/<host>-key.pem\` (mode 0600, owned by the nats user) to \`${SERVER_TLS_DIR}/\`; make \`${SERVER_STORE_DIR}\` writable by the server; open the client (${p.client}), route (${p.cluster}) and gateway (${p.gateway}) ports to the other servers and the region nodes; run \`nats-server -c ${SERVER_CONFIG}\` (e.g. the Debian package's systemd unit with that path). Check with \`nats-server -t -c ${SERVER_CONFIG}\` first.`,
          '',
          `On each region node host (or pod): copy \`nats/users/<region>-node.nk\` to \`${NODE_NKEY_FILE}\` (mode 0600) and \`tls/ca.pem\` to \`${NODE_CA_FILE}\`, then run \`meridian region <region> --bus nats\` with the variables of \`nodes/<region>.env\` in its environment (systemd \`EnvironmentFile=\`): MERIDIAN_NATS_URLS, MERIDIAN_NATS_NKEY_FILE and MERIDIAN_NATS_CA_FILE are the defaults of \`--nats\`, \`--nats-nkey\` and \`--nats-ca\`.`,
          '',
          'Once all regions are up, every server\'s `/gatewayz` lists the other regions as outbound and inbound gateways, and `/jsz?leader-only=true` answers on the meta leader.',
        ].join('\n'),
    '',
  ].join('\n');
}
