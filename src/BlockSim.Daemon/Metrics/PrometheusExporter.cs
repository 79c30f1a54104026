using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using BlockSim.KeyStore;
using BlockSim.Nbd.Server;

namespace BlockSim.Daemon.Metrics;

/// <summary>
/// Aggregates BlockSim's instruments (System.Diagnostics.Metrics) in memory and writes them in the Prometheus
/// text format. A measurement costs one dictionary lookup and an interlocked add; a new series (a new export
/// or command) allocates once.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>Latency bucket bounds in seconds, 50 µs to 10 s.</summary>
    private static readonly double[] s_bounds = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly string[] s_meters = [NbdMetrics.MeterName, KeyStoreMetrics.MeterName, ProcessMetrics.MeterName, ProfileMetrics.MeterName];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<SeriesKey, Series> _series = new();

    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (s_meters.Contains(instrument.Meter.Name))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Find(instrument, tags).Add(value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Find(instrument, tags).Observe(value));
        _listener.Start();
    }

    /// <summary>The current values, in the Prometheus text exposition format (version 0.0.4).</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        foreach (var group in _series.Values.GroupBy(s => s.Instrument).OrderBy(g => g.Key.Name, StringComparer.Ordinal))
        {
            var instrument = group.Key;
            var name = MetricName(instrument);
            var type = instrument switch
            {
                Histogram<double> => "histogram",
                Counter<long> or ObservableCounter<long> => "counter",
                _ => "gauge",
            };
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {instrument.Description}\n# TYPE {name} {type}\n");
            foreach (var series in group.OrderBy(s => s.Labels, StringComparer.Ordinal))
            {
                series.Write(text, name);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private Series Find(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // Our instruments pass at most three tags, always in the same order, with string values.
        var key = new SeriesKey(
            instrument,
            tags.Length > 0 ? tags[0].Value as string : null,
            tags.Length > 1 ? tags[1].Value as string : null,
            tags.Length > 2 ? tags[2].Value as string : null);
        return _series.TryGetValue(key, out var series) ? series : Add(key, tags);
    }

    // Apart from Find: a lambda here captures the instrument, and C# would then allocate its closure on
    // every call of the method that declares it, the fast path included (about 100 bytes per request).
    private Series Add(SeriesKey key, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = string.Join(",", tags.ToArray().Select(t => $"{t.Key}=\"{Escape(t.Value?.ToString() ?? "")}\""));
        return _series.GetOrAdd(key, k => new Series(k.Instrument, labels, k.Instrument is Histogram<double>));
    }

    /// <summary>blocksim.nbd.request.duration (s) -> blocksim_nbd_request_duration_seconds; counters end in _total.</summary>
    private static string MetricName(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        name += instrument.Unit switch
        {
            "s" => "_seconds",
            "By" when !name.EndsWith("_bytes", StringComparison.Ordinal) => "_bytes",
            _ => "",
        };
        return instrument is Counter<long> or ObservableCounter<long> ? name + "_total" : name;
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private readonly record struct SeriesKey(Instrument Instrument, string? Tag0, string? Tag1, string? Tag2);

    /// <summary>One labelled series: a running total (counters, gauges), or histogram buckets, sum and count.</summary>
    private sealed class Series(Instrument instrument, string labels, bool histogram)
    {
        private readonly long[] _buckets = histogram ? new long[s_bounds.Length + 1] : [];
        private long _value;
        private long _count;
        private double _sum;

        public Instrument Instrument { get; } = instrument;

        public string Labels { get; } = labels;

        public void Add(long value)
        {
            if (Instrument.IsObservable)
            {
                Interlocked.Exchange(ref _value, value); // observed values are readings, not increments
            }
            else
            {
                Interlocked.Add(ref _value, value);
            }
        }

        public void Observe(double value)
        {
            var bucket = Array.BinarySearch(s_bounds, value);
            Interlocked.Increment(ref _buckets[bucket >= 0 ? bucket : ~bucket]);
            Interlocked.Increment(ref _count);
            double seen, sum;
            do
            {
                seen = Volatile.Read(ref _sum);
                sum = seen + value;
            }
            while (Interlocked.CompareExchange(ref _sum, sum, seen) != seen);
        }

        public void Write(StringBuilder text, string name)
        {
            var braces = Labels.Length == 0 ? "" : $"{{{Labels}}}";
            if (_buckets.Length == 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"{name}{braces} {Interlocked.Read(ref _value)}\n");
                return;
            }

            var separator = Labels.Length == 0 ? "" : ",";
            long cumulative = 0;
            for (var i = 0; i < s_bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _buckets[i]);
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{Labels}{separator}le=\"{s_bounds[i]:0.#####}\"}} {cumulative}\n");
            }

            cumulative += Interlocked.Read(ref _buckets[^1]);
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{Labels}{separator}le=\"+Inf\"}} {cumulative}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{braces} {Volatile.Read(ref _sum)}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count{braces} {Interlocked.Read(ref _count)}\n");
        }
    }
}
