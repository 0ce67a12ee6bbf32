/**
 * The audit actor of a caller, in one place so every module names "who" the same way: an API key
 * by its id (kind admin: keys are operator credentials), the deprecated admin token as admin
 * without an id, a client token by its user id, a refused API key as anonymous with `key:<id>`
 * (the id is not a secret, and says which key someone tried), anything else by kind alone.
 * Never the credential itself.
 */
import type { Caller } from '../keys/caller.js';
import type { AuditEntry } from './types.js';

export function actorOf(caller: Caller): AuditEntry['actor'] {
  switch (caller.kind) {
    case 'key':
      return { kind: 'admin', id: caller.id };
    case 'admin':
      return { kind: 'admin' };
    case 'user':
      return { kind: 'user', id: caller.user };
    case 'dev':
      return { kind: 'dev' };
    case 'invalid':
      return caller.keyId === undefined ? { kind: 'anonymous' } : { kind: 'anonymous', id: `key:${caller.keyId}` };
    case 'anonymous':
      return { kind: 'anonymous' };
  }
}
