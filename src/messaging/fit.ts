/**
 * What one bus message can carry: the longest prefix of `items` whose JSON fits the bus's payload
 * limit (with room for the envelope), at least one item. Forwarded history pages and replication
 * copies are cut with it; their readers page on from the last seq they got.
 */
export function fittingPrefix<T>(items: readonly T[], maxPayload: number): T[] {
  const budget = Math.floor(maxPayload * 0.9) - 512;
  let used = 0;
  let n = 0;
  for (const item of items) {
    used += Buffer.byteLength(JSON.stringify(item)) + 1;
    if (used > budget && n > 0) break;
    n++;
  }
  return items.slice(0, n);
}
