using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace IngestCluster.Node.Hosting;

/// <summary>One monotonically increasing count. Cheap enough for the data plane: take the handle once, then
/// <see cref="Increment"/> is a single interlocked add.</summary>
public sealed class MetricCounter
{
    private long _value;

    internal MetricCounter(string name, string labels, string help)
    {
        Name = name;
        Labels = labels;
        Help = help;
    }

    public string Name { get; }

    /// <summary>Prometheus label text without braces, e.g. <c>reason="bad_checksum"</c>; empty for none.</summary>
    public string Labels { get; }

    public string Help { get; }

    public long Value => Interlocked.Read(ref _value);

    public void Increment() => Interlocked.Increment(ref _value);

    public void Add(long delta) => Interlocked.Add(ref _value, delta);
}

/// <summary>
/// The node's counters, by name and labels. Every stage counts what it drops and why here; <c>/metrics</c>
/// prints them in the Prometheus text format, and the status JSON includes them.
/// </summary>
public sealed class NodeMetrics
{
    private readonly ConcurrentDictionary<(string Name, string Labels), MetricCounter> _counters = new();

    /// <summary>The counter named <paramref name="name"/> with <paramref name="labels"/>, created on first use.
    /// Names follow Prometheus style: <c>ingest_pim_packets_dropped_total</c>.</summary>
    public MetricCounter Counter(string name, string labels = "", string help = "") =>
        _counters.GetOrAdd((name, labels), key => new MetricCounter(key.Name, key.Labels, help));

    /// <summary>The current value, or 0 for a counter nobody has touched.</summary>
    public long Value(string name, string labels = "") =>
        _counters.TryGetValue((name, labels), out var counter) ? counter.Value : 0;

    /// <summary>The sum over every label set of <paramref name="name"/>.</summary>
    public long Total(string name) => _counters.Values.Where(c => c.Name == name).Sum(c => c.Value);

    public IReadOnlyList<MetricCounter> Snapshot() =>
        [.. _counters.Values.OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Labels, StringComparer.Ordinal)];

    /// <summary>The Prometheus text exposition format (version 0.0.4).</summary>
    public string ToPrometheusText()
    {
        var text = new StringBuilder();
        string? lastName = null;
        foreach (var counter in Snapshot())
        {
            if (counter.Name != lastName)
            {
                if (counter.Help.Length > 0)
                {
                    text.Append("# HELP ").Append(counter.Name).Append(' ').Append(counter.Help).Append('\n');
                }
                text.Append("# TYPE ").Append(counter.Name).Append(" counter\n");
                lastName = counter.Name;
            }
            text.Append(counter.Name);
            if (counter.Labels.Length > 0)
            {
                text.Append('{').Append(counter.Labels).Append('}');
            }
            text.Append(' ').Append(counter.Value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return text.ToString();
    }
}
