using System.Diagnostics.Metrics;
using Prometheus;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// Publishes one node's <see cref="NodeMetrics.Meter"/> as prometheus-net collectors in a registry of its own, which
/// <c>/metrics</c> serves (<c>MapMetrics</c>); prometheus-net writes the text format and escapes label values.
/// </summary>
/// <remarks>
/// Why not prometheus-net's own MeterAdapter (<c>Metrics.ConfigureMeterAdapter</c>): it publishes every .NET counter
/// as a Prometheus <em>gauge</em>, prefixes names with the meter's name, and forgets a series only after it has gone
/// unreported for <c>MetricsExpireAfter</c> (5 minutes by default), where a finished flow's series must go at the
/// next scrape. This listener is the small part that differs: observable counters become Prometheus counters (same
/// names, so nothing gets a second <c>_total</c>), observable gauges gauges, <see cref="Histogram{T}"/>s histograms,
/// and each scrape removes the series its instrument no longer reports. See docs/operations.md, "Metrics".
/// </remarks>
public sealed class PrometheusExport : IDisposable
{
    /// <summary>Buckets of the join-to-first-packet histogram, in seconds: 5 ms to 30 s.</summary>
    public static readonly double[] JoinToFirstPacketBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly MeterListener _listener = new();
    private readonly Meter _meter;
    private readonly IMetricFactory _factory;
    private readonly List<Series> _observable = [];
    private readonly Lock _scrape = new();
    private bool _disposed;

    public PrometheusExport(NodeMetrics metrics)
    {
        _meter = metrics.Meter;
        Registry = Metrics.NewCustomRegistry();
        _factory = Metrics.WithCustomRegistry(Registry);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != _meter)
            {
                return;
            }
            var series = new Series(instrument, _factory);
            if (instrument.IsObservable)
            {
                lock (_scrape)
                {
                    _observable.Add(series);
                }
            }
            listener.EnableMeasurementEvents(instrument, series);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.Start();
        Registry.AddBeforeCollectCallback(Collect);
    }

    /// <summary>The registry <c>/metrics</c> serves: this node's instruments only.</summary>
    public CollectorRegistry Registry { get; }

    private void Collect()
    {
        lock (_scrape)
        {
            if (_disposed)
            {
                return;
            }
            foreach (var series in _observable)
            {
                series.BeginRound();
            }
            _listener.RecordObservableInstruments();
            foreach (var series in _observable)
            {
                series.EndRound();
            }
        }
    }

    public void Dispose()
    {
        lock (_scrape)
        {
            _disposed = true;
        }
        _listener.Dispose();
    }

    /// <summary>One instrument's Prometheus collector and the label sets it reported in the current scrape.</summary>
    private sealed class Series
    {
        private readonly Instrument _instrument;
        private readonly IMetricFactory _factory;
        private readonly Lock _lock = new();
        private string[]? _labelNames;
        private Collector? _collector;
        private Dictionary<string, string[]> _published = new(StringComparer.Ordinal);
        private Dictionary<string, string[]> _seen = new(StringComparer.Ordinal);

        public Series(Instrument instrument, IMetricFactory factory)
        {
            _instrument = instrument;
            _factory = factory;
            if (IsHistogram)
            {
                // A histogram's family shows from the start, with zero observations (it has no labels).
                _collector = Create([]);
            }
        }

        private bool IsHistogram => _instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal);

        public void BeginRound()
        {
            lock (_lock)
            {
                _seen = new Dictionary<string, string[]>(StringComparer.Ordinal);
            }
        }

        /// <summary>Removes the series the instrument did not report this round (a flow that ended, a gauge removed).</summary>
        public void EndRound()
        {
            lock (_lock)
            {
                foreach (var (key, values) in _published)
                {
                    if (!_seen.ContainsKey(key))
                    {
                        Remove(values);
                    }
                }
                _published = _seen;
            }
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_lock)
            {
                _collector ??= Create(tags);
                string[] values = Values(tags);
                switch (_collector)
                {
                    case Prometheus.Counter counter when _instrument.IsObservable:
                        // The measurement is the running total. A total below the published one is a new counter under
                        // the same labels (the flow ended and came back): start the series again.
                        var child = counter.WithLabels(values);
                        if (value < child.Value)
                        {
                            counter.RemoveLabelled(values);
                            child = counter.WithLabels(values);
                        }
                        child.IncTo(value);
                        Seen(values);
                        break;
                    case Prometheus.Counter counter:
                        counter.WithLabels(values).Inc(value);
                        break;
                    case Prometheus.Gauge gauge when _instrument.IsObservable:
                        gauge.WithLabels(values).Set(value);
                        Seen(values);
                        break;
                    case Prometheus.Gauge gauge:
                        gauge.WithLabels(values).Inc(value); // an UpDownCounter's measurement is its change
                        break;
                    case Prometheus.Histogram histogram:
                        histogram.WithLabels(values).Observe(value);
                        break;
                }
            }
        }

        private void Seen(string[] values) => _seen[string.Join('\u0001', values)] = values;

        private void Remove(string[] values)
        {
            switch (_collector)
            {
                case Prometheus.Counter c: c.RemoveLabelled(values); break;
                case Prometheus.Gauge g: g.RemoveLabelled(values); break;
                case Prometheus.Histogram h: h.RemoveLabelled(values); break;
            }
        }

        /// <summary>The label values in the collector's label order (that of the first measurement); a tag the
        /// measurement lacks is empty.</summary>
        private string[] Values(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var values = new string[_labelNames!.Length];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = "";
                if (i < tags.Length && tags[i].Key == _labelNames[i])
                {
                    values[i] = tags[i].Value?.ToString() ?? "";
                    continue;
                }
                foreach (var tag in tags)
                {
                    if (tag.Key == _labelNames[i])
                    {
                        values[i] = tag.Value?.ToString() ?? "";
                        break;
                    }
                }
            }
            return values;
        }

        private Collector Create(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var names = new string[tags.Length];
            for (int i = 0; i < tags.Length; i++)
            {
                names[i] = tags[i].Key;
            }
            _labelNames = names;
            string help = string.IsNullOrWhiteSpace(_instrument.Description) ? _instrument.Name : _instrument.Description;
            string type = _instrument.GetType().Name;
            if (IsHistogram)
            {
                return _factory.CreateHistogram(_instrument.Name, help, names, new HistogramConfiguration
                {
                    Buckets = _instrument.Name == NodeMetrics.JoinToFirstPacketName ? JoinToFirstPacketBuckets : Prometheus.Histogram.ExponentialBuckets(0.001, 2, 20),
                });
            }
            if (type.StartsWith("ObservableCounter", StringComparison.Ordinal) || type.StartsWith("Counter", StringComparison.Ordinal))
            {
                return _factory.CreateCounter(_instrument.Name, help, names, new CounterConfiguration { SuppressInitialValue = true });
            }
            return _factory.CreateGauge(_instrument.Name, help, names, new GaugeConfiguration { SuppressInitialValue = true });
        }
    }
}
