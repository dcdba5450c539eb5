using System.Net;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Node.Demand;

/// <summary>A PIM router we hear on an interface.</summary>
public sealed record PimNeighbor(IPAddress Address, uint? GenerationId, uint? DrPriority, DateTimeOffset? ExpiresAt);

/// <summary>What a Hello meant for the table.</summary>
public enum NeighborEvent
{
    /// <summary>A router we did not know: it must hear our Hello soon.</summary>
    New,
    /// <summary>A known router with a new Generation ID: it restarted and lost its state.</summary>
    Restarted,
    Refreshed,
    /// <summary>Holdtime 0: the router is leaving.</summary>
    Goodbye,
}

/// <summary>The PIM neighbours of one interface, kept by their Hellos' holdtime (RFC 7761 §4.3.1). Pure: time
/// comes from the injected clock.</summary>
public sealed class PimNeighborTable(TimeProvider clock)
{
    private readonly Dictionary<IPAddress, PimNeighbor> _neighbors = [];

    public IReadOnlyCollection<PimNeighbor> Neighbors => _neighbors.Values;

    public int Count => _neighbors.Count;

    public bool Contains(IPAddress address) => _neighbors.ContainsKey(address);

    public NeighborEvent OnHello(IPAddress from, PimHello hello)
    {
        if (hello.IsGoodbye)
        {
            _neighbors.Remove(from);
            return NeighborEvent.Goodbye;
        }
        ushort holdtime = hello.HoldtimeSeconds ?? 105;
        DateTimeOffset? expires = holdtime == ushort.MaxValue ? null : clock.GetUtcNow().AddSeconds(holdtime);
        var neighbor = new PimNeighbor(from, hello.GenerationId, hello.DrPriority, expires);
        bool known = _neighbors.TryGetValue(from, out var previous);
        _neighbors[from] = neighbor;
        if (!known)
        {
            return NeighborEvent.New;
        }
        return previous!.GenerationId != hello.GenerationId ? NeighborEvent.Restarted : NeighborEvent.Refreshed;
    }

    /// <summary>Removes neighbours whose holdtime ran out; returns them.</summary>
    public IReadOnlyList<PimNeighbor> Expire()
    {
        var now = clock.GetUtcNow();
        var expired = _neighbors.Values.Where(n => n.ExpiresAt is { } at && at <= now).ToList();
        foreach (var neighbor in expired)
        {
            _neighbors.Remove(neighbor.Address);
        }
        return expired;
    }
}
