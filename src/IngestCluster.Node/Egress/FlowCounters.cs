using System.Collections.Concurrent;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Egress;

/// <summary>Why a flow's datagram was not forwarded.</summary>
public enum FlowDropReason
{
    /// <summary>The inner (S,G) is not one the tunnel joined.</summary>
    NotJoined = 0,
    /// <summary>The inner IPv4 header did not parse.</summary>
    BadHeader = 1,
    /// <summary>TTL was 1 or 0, so it cannot be forwarded.</summary>
    TtlExpired = 2,
    /// <summary>The egress socket refused it.</summary>
    SendFailed = 3,
}

/// <summary>One (S,G)'s forwarding counts. Take it once per flow; every update is one interlocked add.</summary>
public sealed class FlowCounter
{
    private static readonly int ReasonCount = Enum.GetValues<FlowDropReason>().Length;

    private readonly long[] _drops = new long[ReasonCount];
    private long _packets;
    private long _bytes;

    internal FlowCounter(SourceGroup flow) => Flow = flow;

    public SourceGroup Flow { get; }

    public long Packets => Interlocked.Read(ref _packets);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Forwarded(int length)
    {
        Interlocked.Increment(ref _packets);
        Interlocked.Add(ref _bytes, length);
    }

    public void Dropped(FlowDropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);

    public long Drops(FlowDropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    public long TotalDrops
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _drops.Length; i++)
            {
                total += Interlocked.Read(ref _drops[i]);
            }
            return total;
        }
    }
}

/// <summary>Packets, bytes and drops by reason for each (S,G) the egress carries, for status pages and tests.</summary>
public sealed class FlowCounters
{
    private readonly ConcurrentDictionary<SourceGroup, FlowCounter> _flows = new();

    /// <summary>The counter of <paramref name="flow"/>, created on first use. Call it when a flow starts, not per packet.</summary>
    public FlowCounter For(SourceGroup flow) => _flows.GetOrAdd(flow, static f => new FlowCounter(f));

    /// <summary>Forgets a flow that ended.</summary>
    public bool Remove(SourceGroup flow) => _flows.TryRemove(flow, out _);

    public IReadOnlyList<FlowCounter> Snapshot() =>
        [.. _flows.Values.OrderBy(c => c.Flow.Group.ToString(), StringComparer.Ordinal).ThenBy(c => c.Flow.Source.ToString(), StringComparer.Ordinal)];
}
