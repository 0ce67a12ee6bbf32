/**
 * Find a frame's `id` without parsing the whole frame, so that an oversized or malformed frame
 * can still be answered with an error that carries `ref`.
 *
 * Scans the top-level object of the first `SCAN_CHARS` characters, key by key, skipping scalar
 * values; it gives up at the first nested value or anything unexpected. It never guesses: an
 * `"id"` inside a body or after a nested value is not found. Clients that put `type` and `id`
 * first (as docs/protocol.md recommends) always get their ref back.
 */

const SCAN_CHARS = 1024;
const SCALAR = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/;

/** Index just past the JSON string starting at `i` (a `"`), or -1. */
function skipString(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) j++; // backslash: skip the escaped character
    else if (c === 0x22) return j + 1;
  }
  return -1;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  return i;
}

function decode(literal: string): unknown {
  try {
    return JSON.parse(literal);
  } catch {
    return undefined;
  }
}

/** The top-level `id` of a (possibly truncated or invalid) JSON object text, if it is a string. */
export function scanRef(text: string): string | undefined {
  const s = text.length > SCAN_CHARS ? text.slice(0, SCAN_CHARS) : text;
  let i = skipWs(s, 0);
  if (s[i] !== '{') return undefined;
  i++;
  for (;;) {
    i = skipWs(s, i);
    if (s[i] !== '"') return undefined;
    const keyEnd = skipString(s, i);
    if (keyEnd < 0) return undefined;
    const key = decode(s.slice(i, keyEnd));
    i = skipWs(s, keyEnd);
    if (s[i] !== ':') return undefined;
    i = skipWs(s, i + 1);
    if (s[i] === '"') {
      const end = skipString(s, i);
      if (end < 0) return undefined;
      if (key === 'id') {
        const v = decode(s.slice(i, end));
        return typeof v === 'string' ? v : undefined;
      }
      i = end;
    } else {
      const m = SCALAR.exec(s.slice(i, i + 64));
      if (!m) return undefined; // nested value or garbage: stop rather than guess
      i += m[0].length;
    }
    i = skipWs(s, i);
    if (s[i] !== ',') return undefined;
    i++;
  }
}
