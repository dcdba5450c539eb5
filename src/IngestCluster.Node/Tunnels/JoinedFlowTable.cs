using System.Collections.Frozen;
using System.Net;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// Per-(S,G) data counters: packets and bytes forwarded, drops by reason. They are the node's metrics
/// (<c>ingest_flow_packets_total{source,group}</c> and friends), so they show in /metrics and survive the tunnel;
/// the handles are taken once, when the flow is joined, and the data path only adds to them.
/// </summary>
public sealed class FlowStats
{
    private readonly MetricCounter _packets;
    private readonly MetricCounter _bytes;
    private readonly MetricCounter _ttlExpired;
    private readonly MetricCounter _sendErrors;
    private readonly NodeMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly long _joinedAt;
    private int _firstForwarded;

    /// <summary>The counters of a flow a tunnel has just joined. The join-to-first-packet clock starts here: the
    /// first <see cref="Forwarded"/> records the time since into <c>ingest_join_to_first_packet_seconds</c>.</summary>
    public FlowStats(SourceGroup flow, NodeMetrics? metrics = null, TimeProvider? time = null)
    {
        Flow = flow;
        metrics ??= new NodeMetrics();
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
        _joinedAt = _time.GetTimestamp();
        string labels = NodeMetrics.FlowLabels(flow);
        _packets = metrics.Counter(NodeMetrics.FlowPacketsName, labels, "Packets forwarded onto the LAN, per (S,G).");
        _bytes = metrics.Counter(NodeMetrics.FlowBytesName, labels, "Bytes (IP header included) forwarded onto the LAN, per (S,G).");
        _ttlExpired = metrics.Counter(NodeMetrics.FlowDroppedName, labels + NodeMetrics.TtlExpiredLabel, "Packets of a joined (S,G) dropped, by reason.");
        _sendErrors = metrics.Counter(NodeMetrics.FlowDroppedName, labels + NodeMetrics.SendErrorLabel, "Packets of a joined (S,G) dropped, by reason.");
    }

    public SourceGroup Flow { get; }

    public long Packets => _packets.Value;

    public long Bytes => _bytes.Value;

    public long TtlExpired => _ttlExpired.Value;

    public long SendErrors => _sendErrors.Value;

    internal void Forwarded(int packets, long bytes)
    {
        _packets.Add(packets);
        _bytes.Add(bytes);
        if (_firstForwarded == 0)
        {
            FirstForwarded();
        }
    }

    /// <summary>Once per flow and tunnel (a plain read on the data path, an exchange only the first time).</summary>
    private void FirstForwarded()
    {
        if (Interlocked.Exchange(ref _firstForwarded, 1) == 0)
        {
            _metrics.RecordJoinToFirstPacket(_time.GetElapsedTime(_joinedAt));
        }
    }

    internal void TtlExpiredDrop() => _ttlExpired.Increment();

    internal void SendError() => _sendErrors.Increment();
}

/// <summary>
/// The (S,G)s a tunnel has joined, as the receive loop sees them: an immutable lookup from (S,G) to its
/// <see cref="FlowStats"/>, replaced whole by the tunnel actor when its groups change. The loop reads it through a
/// volatile field, so the data path takes no lock and allocates nothing.
/// </summary>
public sealed class JoinedFlowTable
{
    public static readonly JoinedFlowTable Empty = new(FrozenDictionary<ulong, FlowStats>.Empty);

    private readonly FrozenDictionary<ulong, FlowStats> _flows;

    private JoinedFlowTable(FrozenDictionary<ulong, FlowStats> flows) => _flows = flows;

    public int Count => _flows.Count;

    public IEnumerable<FlowStats> Flows => _flows.Values;

    /// <summary>A table of <paramref name="flows"/>, keeping the stats objects of flows already in this one; new
    /// flows count into <paramref name="metrics"/>.</summary>
    public JoinedFlowTable With(IEnumerable<SourceGroup> flows, NodeMetrics? metrics = null)
    {
        var next = new Dictionary<ulong, FlowStats>();
        foreach (var flow in flows)
        {
            if (flow.Source.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork ||
                flow.Group.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                continue; // the data path reads IPv4 only; IPv6 demand is refused where it enters
            }
            ulong key = Key(Ipv4Header.FromAddress(flow.Source), Ipv4Header.FromAddress(flow.Group));
            next[key] = _flows.TryGetValue(key, out var existing) ? existing : new FlowStats(flow, metrics);
        }
        return new JoinedFlowTable(next.ToFrozenDictionary());
    }

    /// <summary>The stats of a joined (S,G), or null when it is not joined. Allocation-free.</summary>
    public FlowStats? Find(uint source, uint group) => _flows.GetValueOrDefault(Key(source, group));

    public bool Contains(IPAddress source, IPAddress group) =>
        _flows.ContainsKey(Key(Ipv4Header.FromAddress(source), Ipv4Header.FromAddress(group)));

    private static ulong Key(uint source, uint group) => (ulong)source << 32 | group;
}
