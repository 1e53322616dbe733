/** Binary searches over an ascending array of numbers (event times, mostly). */

/** First index whose value is > t (so [0, result) are the values ≤ t); `from`: search [from, length) only. */
export function upperBound(a: readonly number[], t: number, from = 0): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is ≥ t (so [0, result) are the values < t). */
export function lowerBound(a: readonly number[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
