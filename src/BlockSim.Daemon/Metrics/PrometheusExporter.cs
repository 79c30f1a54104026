using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using BlockSim.KeyStore;
using BlockSim.Nbd.Server;

namespace BlockSim.Daemon.Metrics;

/// <summary>
/// Aggregates BlockSim's instruments and the runtime's (System.Diagnostics.Metrics) in memory and writes them
/// in the Prometheus text format, with the standard process_* metrics and blocksim_build_info. Each instrument
/// kind goes its own way whatever its number type: counters add up (_total), gauges and up-down counters are
/// readings or running sums, histograms (of long or double) fill buckets. A measurement costs one dictionary
/// lookup and an interlocked add; a new series (a new export or command) allocates once.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>Latency bucket bounds in seconds, 5 µs to 10 s (sub-millisecond devices are simulated here).</summary>
    private static readonly double[] s_secondBounds = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>For a histogram of something other than seconds that gives no bounds of its own: powers of 4 from 1.</summary>
    private static readonly double[] s_otherBounds = [.. Enumerable.Range(0, 16).Select(i => Math.Pow(4, i))];

    /// <summary>The runtime's own meter (GC, thread pool, JIT, CPU time), .NET 9 and later.</summary>
    public const string RuntimeMeterName = "System.Runtime";

    private static readonly string[] s_meters = [NbdMetrics.MeterName, KeyStoreMetrics.MeterName, ProcessMetrics.MeterName, ProfileMetrics.MeterName, RuntimeMeterName];

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
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Find(instrument, tags).Record(value));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Find(instrument, tags).Record(value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Find(instrument, tags).Record(value));
        _listener.Start();
    }

    /// <summary>The current values, in the Prometheus text exposition format (version 0.0.4).</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        foreach (var group in _series.Values.GroupBy(s => s.Instrument).OrderBy(g => MetricName(g.Key), StringComparer.Ordinal))
        {
            var instrument = group.Key;
            var name = MetricName(instrument);
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {EscapeHelp(instrument.Description ?? instrument.Name)}\n# TYPE {name} {KindOf(instrument).ToString().ToLowerInvariant()}\n");
            foreach (var series in group.OrderBy(s => s.Labels, StringComparer.Ordinal))
            {
                series.Write(text, name);
            }
        }

        BuildInfo.Write(text);
        StandardProcessMetrics.Write(text);
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>A number as Prometheus writes one: shortest round-trip form, NaN, +Inf and -Inf.</summary>
    public static string Format(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e');

    private static MetricKind KindOf(Instrument instrument)
    {
        var type = instrument.GetType();
        var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        return generic == typeof(Histogram<>) ? MetricKind.Histogram
            : generic == typeof(Counter<>) || generic == typeof(ObservableCounter<>) ? MetricKind.Counter
            : MetricKind.Gauge;
    }

    private Series Find(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // Ours pass at most three tags, in the same order, with string values: no allocation. The runtime's
        // may pass other values or more tags; those are keyed by their text (an allocation, off our hot path).
        var key = tags.Length <= 3
            ? new SeriesKey(instrument, Tag(tags, 0), Tag(tags, 1), Tag(tags, 2), null)
            : new SeriesKey(instrument, Tag(tags, 0), Tag(tags, 1), Tag(tags, 2), string.Join(",", tags[3..].ToArray().Select(t => $"{t.Key}={t.Value}")));
        return _series.TryGetValue(key, out var series) ? series : Add(key, tags);
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, int index) =>
        index >= tags.Length ? null : tags[index].Value as string ?? tags[index].Value?.ToString();

    // Apart from Find: a lambda here captures the instrument, and C# would then allocate its closure on
    // every call of the method that declares it, the fast path included (about 100 bytes per request).
    private Series Add(SeriesKey key, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = string.Join(",", tags.ToArray().Select(t => $"{LabelName(t.Key)}=\"{Escape(t.Value?.ToString() ?? "")}\""));
        return _series.GetOrAdd(key, k =>
        {
            var kind = KindOf(k.Instrument);
            var replaces = k.Instrument.IsObservable || k.Instrument.GetType().IsGenericType && k.Instrument.GetType().GetGenericTypeDefinition() == typeof(Gauge<>);
            return new Series(k.Instrument, labels, kind, kind == MetricKind.Histogram ? BoundsOf(k.Instrument) : [], replaces);
        });
    }

    private static double[] BoundsOf(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { Count: > 0 } given } => [.. given],
        Histogram<long> { Advice.HistogramBucketBoundaries: { Count: > 0 } given } => [.. given.Select(b => (double)b)],
        _ => instrument.Unit == "s" ? s_secondBounds : s_otherBounds,
    };

    /// <summary>
    /// blocksim.nbd.request.duration (s) -> blocksim_nbd_request_duration_seconds; counters end in _total;
    /// the runtime's dotnet.gc.collections -> dotnet_gc_collections_total.
    /// </summary>
    private static string MetricName(Instrument instrument)
    {
        var name = LabelName(instrument.Name);
        name += instrument.Unit switch
        {
            "s" when !name.EndsWith("_seconds", StringComparison.Ordinal) => "_seconds",
            "By" when !name.EndsWith("_bytes", StringComparison.Ordinal) => "_bytes",
            _ => "",
        };
        return KindOf(instrument) == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal) ? name + "_total" : name;
    }

    /// <summary>Prometheus names are [a-zA-Z_:][a-zA-Z0-9_:]*: dots and anything else become underscores.</summary>
    private static string LabelName(string name) => string.Create(name.Length, name, (span, source) =>
    {
        for (var i = 0; i < source.Length; i++)
        {
            span[i] = char.IsAsciiLetterOrDigit(source[i]) || source[i] == '_' ? source[i] : '_';
        }
    });

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private enum MetricKind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private readonly record struct SeriesKey(Instrument Instrument, string? Tag0, string? Tag1, string? Tag2, string? MoreTags);

    /// <summary>
    /// One labelled series. A counter or up-down counter adds what it is given; an observable instrument's
    /// measurement, or a gauge's, is a reading that replaces the last (<paramref name="replaces"/>); a histogram fills buckets, a sum and a count. Longs
    /// add exactly; doubles add by compare-and-exchange.
    /// </summary>
    private sealed class Series(Instrument instrument, string labels, MetricKind kind, double[] bounds, bool replaces)
    {
        private readonly long[] _buckets = kind == MetricKind.Histogram ? new long[bounds.Length + 1] : [];
        private long _whole;
        private double _fraction;
        private long _count;

        public Instrument Instrument { get; } = instrument;

        public string Labels { get; } = labels;

        public void Record(long value)
        {
            if (kind == MetricKind.Histogram)
            {
                Observe(value);
            }
            else if (replaces)
            {
                Interlocked.Exchange(ref _whole, value); // readings, not increments
            }
            else
            {
                Interlocked.Add(ref _whole, value);
            }
        }

        public void Record(double value)
        {
            if (kind == MetricKind.Histogram)
            {
                Observe(value);
            }
            else if (replaces)
            {
                Interlocked.Exchange(ref _fraction, value);
            }
            else
            {
                AddFraction(value);
            }
        }

        public void Write(StringBuilder text, string name)
        {
            var braces = Labels.Length == 0 ? "" : $"{{{Labels}}}";
            if (kind != MetricKind.Histogram)
            {
                var whole = Interlocked.Read(ref _whole);
                var fraction = Volatile.Read(ref _fraction);
                text.Append(CultureInfo.InvariantCulture, $"{name}{braces} {(fraction == 0 ? whole.ToString(CultureInfo.InvariantCulture) : Format(whole + fraction))}\n");
                return;
            }

            var separator = Labels.Length == 0 ? "" : ",";
            long cumulative = 0;
            for (var i = 0; i < bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _buckets[i]);
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{Labels}{separator}le=\"{Format(bounds[i])}\"}} {cumulative}\n");
            }

            cumulative += Interlocked.Read(ref _buckets[^1]);
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{Labels}{separator}le=\"+Inf\"}} {cumulative}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{braces} {Format(Volatile.Read(ref _fraction))}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count{braces} {Interlocked.Read(ref _count)}\n");
        }

        private void Observe(double value)
        {
            var bucket = Array.BinarySearch(bounds, value);
            Interlocked.Increment(ref _buckets[bucket >= 0 ? bucket : ~bucket]);
            Interlocked.Increment(ref _count);
            AddFraction(value);
        }

        private void AddFraction(double value)
        {
            double seen, sum;
            do
            {
                seen = Volatile.Read(ref _fraction);
                sum = seen + value;
            }
            while (Interlocked.CompareExchange(ref _fraction, sum, seen) != seen);
        }
    }
}
