/** The syntax of `egress.allow` entries (the rules they feed are in src/services/egress/policy.ts). */
import { isIP } from 'node:net';

const HOST = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** Why an entry is not an address, a CIDR, a host name or `*.suffix`; undefined when it is one. */
export function egressEntryProblem(raw: string): string | undefined {
  const entry = raw.trim();
  const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
  if (cidr) {
    const v = isIP(cidr[1]!);
    if (v === 0 || Number(cidr[2]) > (v === 4 ? 32 : 128)) return `${JSON.stringify(raw)} is not a CIDR`;
    return undefined;
  }
  if (isIP(entry) !== 0 || HOST.test(entry)) return undefined;
  return `${JSON.stringify(raw)} is neither an address, a CIDR, a host name nor *.suffix`;
}
