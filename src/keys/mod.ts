/**
 * API keys with scopes (docs/security.md, "Credentials and scopes"): the key format and its
 * hashing, the keys file and its atomic edits (`meridian keys`), and the KeyRing nodes and the
 * edge check presented keys against, re-read when the file changes.
 */
export { SCOPES, isScope, parseScopes } from './scopes.js';
export type { Scope } from './scopes.js';
export { KEY_PATTERN, ID_PATTERN, generateKey, hashKey, keyId } from './key.js';
export { parseExpiry } from './duration.js';
export { checkNote, createKey, keyInfo, listKeys, newKeyRecord, parseKeysFile, readKeysFile, revokeKey, serializeKeysFile, withKeysLock, writeKeysFile, MAX_NOTE } from './file.js';
export type { CreateKeyOptions, CreatedKey, KeyInfo, KeyRecord } from './file.js';
export { KeyRing, DEFAULT_KEYS_POLL_MS } from './ring.js';
export type { KeyChange, KeyCheck, KeyRingOptions } from './ring.js';
