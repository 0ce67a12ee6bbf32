/**
 * `*`-only glob match (room patterns in tokens, conversation patterns in the topology's
 * placement rules) in O(pattern × text) at worst, without backtracking blow-up: on a mismatch
 * only the last `*` is extended (a later star subsumes every earlier choice). A regular
 * expression built from `*a*a*a*a*b` took seconds per room on a backtracking engine.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
