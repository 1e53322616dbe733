import type { Metric, Registry } from "prom-client";
import { lowerBound } from "../shared/sorted.ts";

/**
 * HTTP requests by operation and status, and their durations by operation, exposed through a prom-client registry
 * in the same series prom-client's own Counter and Histogram would give. On the request path a request costs one
 * Map lookup, an increment and a bucket scan: prom-client's labelled `inc` and `observe` validate and hash the labels
 * on every call, ~3 µs a request in the assess route's CPU profile. The text is built only when /metrics is read.
 */
export function registerRequestMetrics(
  registry: Registry,
  opts: { requests: string; duration: string; buckets: readonly number[] },
) {
  const bounds = [...opts.buckets].sort((a, b) => a - b);
  interface Operation {
    byStatus: Map<number, number>;
    /** Observations per bucket, not cumulative; the last slot counts those above every bound. */
    buckets: Float64Array;
    sum: number;
    count: number;
  }
  /** One line of the exposition, as prom-client's registry takes it from a metric's `get()`. */
  interface Line {
    metricName?: string;
    labels: Record<string, string | number>;
    value: number;
  }
  const ops = new Map<string, Operation>();
  const opOf = (operation: string): Operation => {
    let o = ops.get(operation);
    if (!o) {
      o = { byStatus: new Map(), buckets: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
      ops.set(operation, o);
    }
    return o;
  };

  // The registry reads only `name` and `get()` of a metric (registry.js getMetricsAsString).
  registry.registerMetric({
    name: opts.requests,
    get: () => ({
      name: opts.requests,
      help: "HTTP requests by operation and status",
      type: "counter",
      values: [...ops].flatMap(([operation, o]) =>
        [...o.byStatus].map(([status, value]): Line => ({ labels: { operation, status: String(status) }, value })),
      ),
    }),
  } as unknown as Metric);
  registry.registerMetric({
    name: opts.duration,
    get: () => ({
      name: opts.duration,
      help: "HTTP request duration by operation",
      type: "histogram",
      values: [...ops].flatMap(([operation, o]) => {
        let cumulative = 0;
        const lines: Line[] = bounds.map((le, i) => {
          cumulative += o.buckets[i]!;
          return { metricName: `${opts.duration}_bucket`, labels: { le, operation }, value: cumulative };
        });
        lines.push({ metricName: `${opts.duration}_bucket`, labels: { le: "+Inf", operation }, value: o.count });
        lines.push({ metricName: `${opts.duration}_sum`, labels: { operation }, value: o.sum });
        lines.push({ metricName: `${opts.duration}_count`, labels: { operation }, value: o.count });
        return lines;
      }),
    }),
  } as unknown as Metric);

  return {
    observe(operation: string, status: number, seconds: number): void {
      const o = opOf(operation);
      o.byStatus.set(status, (o.byStatus.get(status) ?? 0) + 1);
      // The first bound ≥ the value, as prom-client's findBound picks it.
      const i = lowerBound(bounds, seconds);
      o.buckets[i] = o.buckets[i]! + 1;
      o.sum += seconds;
      o.count++;
    },
  };
}
