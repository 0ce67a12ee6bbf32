/**
 * JSON from the network with its nesting bounded before anything recurses over it.
 *
 * `JSON.parse` itself copes with deep input, but everything after it (JSON.stringify, zod, a
 * structured clone) recurses, and a 5,000-deep body blew the stack there: a 500 for what is the
 * sender's mistake. So the text's depth is measured first, in one pass without recursion
 * (brackets outside strings), and deep input is refused as a 400 by the caller.
 */

/** Deepest nesting of `{`/`[` in JSON text (strings skipped, escapes honoured); stops past `limit`. */
export function jsonTextDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

export type JsonResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: 'syntax' | 'depth'; readonly message: string };

/** Parse JSON text nested at most `maxDepth` levels (an object in an object is 2). */
export function parseJsonBounded(text: string, maxDepth: number): JsonResult {
  if (jsonTextDepth(text, maxDepth) > maxDepth) return { ok: false, reason: 'depth', message: `JSON nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'syntax', message: 'not valid JSON' };
  }
}
