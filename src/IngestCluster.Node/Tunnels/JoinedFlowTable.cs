using System.Collections.Frozen;
using System.Net;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Node.Tunnels;

/// <summary>Per-(S,G) data counters of one tunnel. Written by the receive loop only; read by anyone.</summary>
public sealed class FlowStats(SourceGroup flow)
{
    private long _packets;
    private long _bytes;
    private long _ttlExpired;
    private long _sendErrors;

    public SourceGroup Flow { get; } = flow;

    public long Packets => Interlocked.Read(ref _packets);

    public long Bytes => Interlocked.Read(ref _bytes);

    public long TtlExpired => Interlocked.Read(ref _ttlExpired);

    public long SendErrors => Interlocked.Read(ref _sendErrors);

    internal void Forwarded(int bytes)
    {
        Interlocked.Increment(ref _packets);
        Interlocked.Add(ref _bytes, bytes);
    }

    internal void TtlExpiredDrop() => Interlocked.Increment(ref _ttlExpired);

    internal void SendError() => Interlocked.Increment(ref _sendErrors);
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

    /// <summary>A table of <paramref name="flows"/>, keeping the stats objects of flows already in this one.</summary>
    public JoinedFlowTable With(IEnumerable<SourceGroup> flows)
    {
        var next = new Dictionary<ulong, FlowStats>();
        foreach (var flow in flows)
        {
            ulong key = Key(Ipv4Header.FromAddress(flow.Source), Ipv4Header.FromAddress(flow.Group));
            next[key] = _flows.TryGetValue(key, out var existing) ? existing : new FlowStats(flow);
        }
        return new JoinedFlowTable(next.ToFrozenDictionary());
    }

    /// <summary>The stats of a joined (S,G), or null when it is not joined. Allocation-free.</summary>
    public FlowStats? Find(uint source, uint group) => _flows.GetValueOrDefault(Key(source, group));

    public bool Contains(IPAddress source, IPAddress group) =>
        _flows.ContainsKey(Key(Ipv4Header.FromAddress(source), Ipv4Header.FromAddress(group)));

    private static ulong Key(uint source, uint group) => (ulong)source << 32 | group;
}
