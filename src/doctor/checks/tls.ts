/**
 * TLS certificates of the endpoints the doctor reached over TLS: days until expiry (FAIL under 7
 * days or on a failed handshake, warn under 30). Trust is judged only against the CA the operator
 * gives (`--ca`, the deployment's private CA from `meridian plan`): the system roots never know it.
 */
import type { CertProbe, CheckLine, Snapshot, Verdict } from '../types.js';

export const CERT_FAIL_DAYS = 7;
export const CERT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export function certVerdict(daysLeft: number): Verdict {
  return daysLeft < CERT_FAIL_DAYS ? 'FAIL' : daysLeft < CERT_WARN_DAYS ? 'warn' : 'ok';
}

function certLine(c: CertProbe, nowMs: number): CheckLine {
  const base = { check: 'tls cert', subject: `${c.kind} ${c.region} ${c.endpoint}` };
  if (c.error !== undefined || c.notAfter === undefined) return { ...base, verdict: 'FAIL', detail: c.error ?? 'no certificate presented' };
  if (c.untrusted !== undefined) return { ...base, verdict: 'FAIL', detail: `not signed by the --ca certificate: ${c.untrusted}` };
  const days = (Date.parse(c.notAfter) - nowMs) / DAY_MS;
  const who = [c.subjectCn === undefined ? undefined : `CN=${c.subjectCn}`, c.issuerCn === undefined ? undefined : `issuer ${c.issuerCn}`].filter((x) => x !== undefined).join(', ');
  const when = days < 0 ? `expired ${Math.ceil(-days)} days ago` : `${Math.floor(days)} days left`;
  return { ...base, verdict: certVerdict(days), detail: `${when} (until ${c.notAfter.slice(0, 10)})${who ? `; ${who}` : ''}` };
}

export function checkCerts(s: Snapshot): CheckLine[] {
  return s.certs.map((c) => certLine(c, s.takenAtMs));
}
