/**
 * `new Date(ms).toISOString()`, the same string, at a fifth of the cost (~0.15 against ~0.85 µs a call, measured on this machine): the session
 * check formats two or three times a request, ~5 % of its CPU. The date part is kept per day (a session's times fall
 * on a few days), the rest is read from tables. Outside years 1970–9999, or for a fractional or non-finite value, it
 * is Date's own (extended years, truncation, RangeError).
 */
const MAX_MS = 253402300799999; // 9999-12-31T23:59:59.999Z
const DAY_MS = 86_400_000;
const two = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const three = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const days = new Map<number, string>();

export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms <= MAX_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  let date = days.get(day);
  if (date === undefined) {
    date = new Date(day * DAY_MS).toISOString().slice(0, 11); // "YYYY-MM-DDT"
    if (days.size >= 4096) days.clear();
    days.set(day, date);
  }
  let r = ms - day * DAY_MS;
  const h = Math.floor(r / 3_600_000);
  r -= h * 3_600_000;
  const m = Math.floor(r / 60_000);
  r -= m * 60_000;
  const s = Math.floor(r / 1000);
  return `${date}${two[h]}:${two[m]}:${two[s]}.${three[r - s * 1000]}Z`;
}
