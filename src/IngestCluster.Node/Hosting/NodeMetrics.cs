using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Hosting;

/// <summary>One monotonically increasing count. Cheap enough for the data plane: take the handle once, then
/// <see cref="Increment"/> is a single interlocked add. The value is read at scrape time by the node's
/// <see cref="NodeMetrics.Meter"/> (an observable counter), never pushed.</summary>
public sealed class MetricCounter
{
    private long _value;

    internal MetricCounter(string name, string labels, string help, KeyValuePair<string, object?>[] tags, string? flow, bool exported)
    {
        Name = name;
        Labels = labels;
        Help = help;
        Tags = tags;
        Flow = flow;
        Exported = exported;
    }

    public string Name { get; }

    /// <summary>Prometheus label text without braces, e.g. <c>reason="bad_checksum"</c>; empty for none.</summary>
    public string Labels { get; }

    public string Help { get; }

    public long Value => Interlocked.Read(ref _value);

    public void Increment() => Interlocked.Increment(ref _value);

    public void Add(long delta) => Interlocked.Add(ref _value, delta);

    /// <summary>The labels as the meter's tags (parsed once, at creation).</summary>
    internal KeyValuePair<string, object?>[] Tags { get; }

    /// <summary>The (S,G) this counter belongs to (<c>source|group</c>), or null for a node-wide counter.</summary>
    internal string? Flow { get; }

    /// <summary>False for a per-(S,G) counter over <see cref="NodeMetrics.MaxFlowSeries"/>: it still counts (the admin
    /// API reads it), but /metrics leaves it out.</summary>
    internal bool Exported { get; }
}

/// <summary>How many things are in each state, e.g. tunnels by state: each key (a source) is in one state at a time.
/// Exported as a gauge with one series per state.</summary>
public sealed class MetricTally
{
    private readonly ConcurrentDictionary<string, string> _states = new(StringComparer.Ordinal);

    internal MetricTally(string label, IReadOnlyList<string> knownStates)
    {
        Label = label;
        KnownStates = knownStates;
    }

    internal string Label { get; }

    /// <summary>States always exported, at 0 when nothing is in them, so a dashboard sees the series go to zero.</summary>
    internal IReadOnlyList<string> KnownStates { get; }

    public void Set(string key, string state) => _states[key] = state;

    public void Remove(string key) => _states.TryRemove(key, out _);

    public int Count(string state) => _states.Values.Count(s => s == state);

    internal Dictionary<string, int> Counts()
    {
        var counts = KnownStates.ToDictionary(s => s, _ => 0, StringComparer.Ordinal);
        foreach (var state in _states.Values)
        {
            counts[state] = counts.GetValueOrDefault(state) + 1;
        }
        return counts;
    }
}

/// <summary>
/// The node's metrics. Every stage counts what it drops and why in <see cref="Counter"/>s; gauges, tallies and the
/// join-to-first-packet histogram sit beside them. All of them are instruments of one
/// <see cref="System.Diagnostics.Metrics.Meter"/> (<see cref="MeterName"/>): counters and gauges are observable
/// instruments whose callbacks read the values at scrape time, so the data plane only does its interlocked add.
/// <see cref="PrometheusExport"/> turns the meter into <c>/metrics</c> with prometheus-net (docs/operations.md).
/// </summary>
/// <remarks>Per-(S,G) counters (labels <c>source</c> and <c>group</c>) are series that come and go with their flow:
/// <see cref="EndFlow"/> removes them, and at most <see cref="MaxFlowSeries"/> flows have them at once; a flow over
/// the cap still counts (the admin API reads it) but is left out of /metrics and counted in
/// <c>ingest_flow_series_capped_total</c>.</remarks>
public sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "IngestCluster";
    public const int DefaultMaxFlowSeries = 1000;

    public const string JoinToFirstPacketName = "ingest_join_to_first_packet_seconds";
    public const string ParseErrorsName = "ingest_parse_errors_total";
    public const string FlowSeriesCappedName = "ingest_flow_series_capped_total";
    public const string FailoverEventsName = "ingest_failover_events_total";

    /// <summary>The per-(S,G) counters' names and labels, shared by the tunnels' <c>FlowStats</c> that count them and
    /// <see cref="FlowTotals"/> that reads them back.</summary>
    internal const string FlowPacketsName = "ingest_flow_packets_total";
    internal const string FlowBytesName = "ingest_flow_bytes_total";
    internal const string FlowDroppedName = "ingest_flow_dropped_total";
    internal const string TtlExpiredLabel = ",reason=\"ttl_expired\"";
    internal const string SendErrorLabel = ",reason=\"send_error\"";

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, MetricCounter>> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, MetricGauge>> _gauges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MetricTally> _tallies = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flowsWithSeries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flowsCapped = new(StringComparer.Ordinal);
    private readonly Lock _create = new();
    private readonly Histogram<double> _joinToFirstPacket;
    private readonly MetricCounter _flowSeriesCapped;

    public NodeMetrics(int maxFlowSeries = DefaultMaxFlowSeries)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxFlowSeries);
        MaxFlowSeries = maxFlowSeries;
        Meter = new Meter(MeterName);
        _joinToFirstPacket = Meter.CreateHistogram<double>(JoinToFirstPacketName, "s",
            "Time from a tunnel's join of an (S,G) (the IGMP/AMT membership update sent) to the first data packet of that (S,G).");
        _flowSeriesCapped = Counter(FlowSeriesCappedName, "",
            "Flows given no per-(S,G) series because Admin:MetricsFlowLimit flows already had them.");
        Meter.CreateObservableCounter(ParseErrorsName, ObserveParseErrors, description:
            "Packets, lines and messages that could not be parsed, by protocol (the per-protocol drop counters, summed).");
    }

    /// <summary>The meter every instrument of this node belongs to; one per node, so nodes in one process stay apart.</summary>
    public Meter Meter { get; }

    /// <summary>How many flows may have per-(S,G) series at once (<c>Admin:MetricsFlowLimit</c>).</summary>
    public int MaxFlowSeries { get; }

    /// <summary>The counter named <paramref name="name"/> with <paramref name="labels"/>, created on first use.
    /// Names follow Prometheus style: <c>ingest_pim_packets_dropped_total</c>; labels are Prometheus label text
    /// (<c>reason="bad_checksum",interface="eth0"</c>, values escaped as in the text format).</summary>
    public MetricCounter Counter(string name, string labels = "", string help = "")
    {
        if (_counters.TryGetValue(name, out var family) && family.TryGetValue(labels, out var existing))
        {
            return existing;
        }
        lock (_create)
        {
            bool newFamily = !_counters.TryGetValue(name, out family);
            if (newFamily)
            {
                family = new ConcurrentDictionary<string, MetricCounter>(StringComparer.Ordinal);
            }
            if (family!.TryGetValue(labels, out existing))
            {
                return existing;
            }
            var tags = PrometheusLabels.Parse(labels);
            string? flow = FlowKey(tags);
            bool exported = true;
            bool capped = false;
            if (flow is not null && !_flowsWithSeries.Contains(flow))
            {
                if (_flowsWithSeries.Count < MaxFlowSeries)
                {
                    _flowsWithSeries.Add(flow);
                }
                else
                {
                    exported = false;
                    capped = _flowsCapped.Add(flow);
                }
            }
            var counter = new MetricCounter(name, labels, help, tags, flow, exported);
            family[labels] = counter;
            if (newFamily)
            {
                _counters[name] = family;
                Meter.CreateObservableCounter(name, () => ObserveCounters(family), description: help.Length > 0 ? help : null);
            }
            if (capped)
            {
                _flowSeriesCapped.Increment();
            }
            return counter;
        }
    }

    /// <summary>The current value, or 0 for a counter nobody has touched.</summary>
    /// <summary>A flow's packets and bytes forwarded and packets dropped (TTL expired, send errors) on this node.</summary>
    public (long Packets, long Bytes, long Drops) FlowTotals(SourceGroup flow)
    {
        string labels = FlowLabels(flow);
        return (Value(FlowPacketsName, labels), Value(FlowBytesName, labels),
            Value(FlowDroppedName, labels + TtlExpiredLabel) + Value(FlowDroppedName, labels + SendErrorLabel));
    }

    internal static string FlowLabels(SourceGroup flow) => $"source=\"{flow.Source}\",group=\"{flow.Group}\"";

    public long Value(string name, string labels = "") =>
        _counters.TryGetValue(name, out var family) && family.TryGetValue(labels, out var counter) ? counter.Value : 0;

    /// <summary>The sum over every label set of <paramref name="name"/>.</summary>
    public long Total(string name) => _counters.TryGetValue(name, out var family) ? family.Values.Sum(c => c.Value) : 0;

    public IReadOnlyList<MetricCounter> Snapshot() =>
        [.. _counters.Values.SelectMany(f => f.Values)
            .OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Labels, StringComparer.Ordinal)];

    /// <summary>Sets the gauge <paramref name="name"/> with <paramref name="labels"/> (created on first use); it is
    /// exported until <see cref="RemoveGauge"/>.</summary>
    public void SetGauge(string name, string labels, double value, string help = "")
    {
        if (!_gauges.TryGetValue(name, out var family))
        {
            lock (_create)
            {
                if (!_gauges.TryGetValue(name, out family))
                {
                    family = new ConcurrentDictionary<string, MetricGauge>(StringComparer.Ordinal);
                    _gauges[name] = family;
                    var observed = family;
                    Meter.CreateObservableGauge(name, () => ObserveGauges(observed), description: help.Length > 0 ? help : null);
                }
            }
        }
        family.GetOrAdd(labels, l => new MetricGauge(PrometheusLabels.Parse(l))).Set(value);
    }

    /// <summary>The gauge's current value, or null when it is not set.</summary>
    public double? Gauge(string name, string labels = "") =>
        _gauges.TryGetValue(name, out var family) && family.TryGetValue(labels, out var gauge) ? gauge.Value : null;

    /// <summary>Stops exporting the gauge (e.g. the budget's, when the singleton leaves this node).</summary>
    public void RemoveGauge(string name, string labels = "")
    {
        if (_gauges.TryGetValue(name, out var family))
        {
            family.TryRemove(labels, out _);
        }
    }

    /// <summary>The tally <paramref name="name"/>: a gauge labelled <paramref name="label"/> with how many keys are
    /// in each state.</summary>
    public MetricTally Tally(string name, string label, string help, params string[] knownStates)
    {
        if (_tallies.TryGetValue(name, out var tally))
        {
            return tally;
        }
        lock (_create)
        {
            if (_tallies.TryGetValue(name, out tally))
            {
                return tally;
            }
            tally = new MetricTally(label, knownStates);
            _tallies[name] = tally;
            var observed = tally;
            Meter.CreateObservableGauge(name, () => observed.Counts()
                .Select(c => new Measurement<long>(c.Value, new KeyValuePair<string, object?>(observed.Label, c.Key))), description: help);
            return tally;
        }
    }

    /// <summary>A gauge computed at scrape time by <paramref name="observe"/> (e.g. cluster members by status, read
    /// from the cluster's state). <paramref name="observe"/> runs on the scrape's thread: it must not block.</summary>
    public void ObserveGauge(string name, string help, Func<IEnumerable<Measurement<long>>> observe) =>
        Meter.CreateObservableGauge(name, observe, description: help);

    /// <summary>One join-to-first-packet time: from the moment a tunnel asked its relay for an (S,G) to the first data
    /// packet of it. Called once per join, not per packet.</summary>
    public void RecordJoinToFirstPacket(TimeSpan elapsed) => _joinToFirstPacket.Record(Math.Max(0, elapsed.TotalSeconds));

    /// <summary>A failover: a source handed to another node (<c>source_handoff</c>), a relay given up for the next
    /// (<c>relay</c>), the budget singleton recovered on this node (<c>budget_takeover</c>).</summary>
    public void FailoverEvent(string kind) =>
        Counter(FailoverEventsName, $"kind=\"{PrometheusLabels.Escape(kind)}\"", "Failovers seen by this node, by kind.").Increment();

    /// <summary>The (S,G) ended on this node: its per-(S,G) series leave /metrics (and its counters are forgotten; if
    /// the flow comes back it starts from zero, which Prometheus reads as a counter reset).</summary>
    public void EndFlow(IPAddress source, IPAddress group)
    {
        string flow = FlowKey(source.ToString(), group.ToString());
        lock (_create)
        {
            foreach (var family in _counters.Values)
            {
                foreach (var (labels, counter) in family)
                {
                    if (counter.Flow == flow)
                    {
                        family.TryRemove(labels, out _);
                    }
                }
            }
            _flowsWithSeries.Remove(flow);
            _flowsCapped.Remove(flow);
        }
    }

    /// <summary>Whether the (S,G) has per-(S,G) series in /metrics now.</summary>
    public bool HasFlowSeries(IPAddress source, IPAddress group)
    {
        lock (_create)
        {
            return _flowsWithSeries.Contains(FlowKey(source.ToString(), group.ToString()));
        }
    }

    public void Dispose() => Meter.Dispose();

    private static IEnumerable<Measurement<long>> ObserveCounters(ConcurrentDictionary<string, MetricCounter> family)
    {
        foreach (var counter in family.Values)
        {
            if (counter.Exported)
            {
                yield return new Measurement<long>(counter.Value, counter.Tags);
            }
        }
    }

    private static IEnumerable<Measurement<double>> ObserveGauges(ConcurrentDictionary<string, MetricGauge> family)
    {
        foreach (var gauge in family.Values)
        {
            yield return new Measurement<double>(gauge.Value, gauge.Tags);
        }
    }

    /// <summary>Which drop counters are parse errors, by protocol. The tunnels' data path counts AMT framing and the
    /// inner IP/UDP apart; both are the AMT protocol's parse errors here.</summary>
    private IEnumerable<Measurement<long>> ObserveParseErrors()
    {
        yield return ParseErrors("pim", Total("ingest_pim_packets_dropped_total"));
        yield return ParseErrors("amt", Value("ingest_tunnel_dropped_total", "reason=\"malformed_amt\"")
            + Value("ingest_tunnel_dropped_total", "reason=\"malformed_inner\""));
        yield return ParseErrors("egress_ip", Value("ingest_egress_dropped_total", "reason=\"malformed\""));
        yield return ParseErrors("joinfile", Total("ingest_joinfile_line_errors_total"));
        yield return ParseErrors("wire", _counters.TryGetValue("ingest_wire_rejected_total", out var wire)
            ? wire.Values.Where(c => c.Labels.Contains("reason=\"malformed\"", StringComparison.Ordinal)).Sum(c => c.Value)
            : 0);
    }

    private static Measurement<long> ParseErrors(string protocol, long value) =>
        new(value, new KeyValuePair<string, object?>("protocol", protocol));

    private static string? FlowKey(KeyValuePair<string, object?>[] tags)
    {
        string? source = null, group = null;
        foreach (var (key, value) in tags)
        {
            if (key == "source")
            {
                source = value as string;
            }
            else if (key == "group")
            {
                group = value as string;
            }
        }
        return source is not null && group is not null ? FlowKey(source, group) : null;
    }

    private static string FlowKey(string source, string group) => source + "|" + group;

    /// <summary>A gauge's value: a double behind an interlocked exchange.</summary>
    private sealed class MetricGauge(KeyValuePair<string, object?>[] tags)
    {
        private long _bits;

        public KeyValuePair<string, object?>[] Tags { get; } = tags;

        public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));

        public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));
    }
}

/// <summary>Prometheus label text (<c>a="x",b="y\"z"</c>), as callers of <see cref="NodeMetrics.Counter"/> write it,
/// to and from tags. The exporter (prometheus-net) escapes values again on the way out.</summary>
public static class PrometheusLabels
{
    /// <summary>Escapes a label value for label text: backslash, double quote and line feed.</summary>
    public static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>Parses label text; throws <see cref="ArgumentException"/> on text that is not labels (a caller's
    /// mistake, not data).</summary>
    public static KeyValuePair<string, object?>[] Parse(string labels)
    {
        var tags = new List<KeyValuePair<string, object?>>();
        int i = 0;
        while (i < labels.Length)
        {
            int equals = labels.IndexOf('=', i);
            if (equals <= i || equals + 1 >= labels.Length || labels[equals + 1] != '"')
            {
                throw new ArgumentException($"metric labels '{labels}': expected name=\"value\" at {i}", nameof(labels));
            }
            string key = labels[i..equals].Trim();
            var value = new System.Text.StringBuilder();
            int j = equals + 2;
            for (; j < labels.Length && labels[j] != '"'; j++)
            {
                if (labels[j] == '\\' && j + 1 < labels.Length)
                {
                    j++;
                    value.Append(labels[j] == 'n' ? '\n' : labels[j]);
                }
                else
                {
                    value.Append(labels[j]);
                }
            }
            if (j >= labels.Length)
            {
                throw new ArgumentException($"metric labels '{labels}': unterminated value of '{key}'", nameof(labels));
            }
            tags.Add(new KeyValuePair<string, object?>(key, value.ToString()));
            i = j + 1;
            if (i < labels.Length)
            {
                if (labels[i] != ',')
                {
                    throw new ArgumentException($"metric labels '{labels}': expected ',' at {i}", nameof(labels));
                }
                i++;
            }
        }
        return [.. tags];
    }
}
