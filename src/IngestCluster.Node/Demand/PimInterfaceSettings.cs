using System.Net;

namespace IngestCluster.Node.Demand;

/// <summary>PIM on one downstream interface (section <c>Demand:Pim:Interfaces:N</c>).</summary>
public sealed record PimInterfaceSettings
{
    public required string Name { get; init; }

    /// <summary>Our DR Priority in Hellos.</summary>
    public uint DrPriority { get; init; } = 1;

    public TimeSpan HelloPeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The Holdtime our Hellos announce: 3.5 × the Hello period by default.</summary>
    public TimeSpan HelloHoldtime { get; init; } = TimeSpan.FromSeconds(105);

    /// <summary>How long a Prune waits for an overriding Join when other routers are on the LAN.</summary>
    public TimeSpan OverrideInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>More Upstream Neighbor addresses to act on, besides our own, every member's (learned from the cluster)
    /// and <see cref="ClusterAddress"/>.</summary>
    public IReadOnlyList<IPAddress> AcceptUpstream { get; init; } = [];

    /// <summary>The cluster's own neighbour address on this LAN: the address routers point their RPF route at. One live
    /// member holds it and sends Hellos from it, so it outlives any node (docs/cluster.md). Null: none.</summary>
    public IPAddress? ClusterAddress { get; init; }

    /// <summary>Groups we serve; others are counted and ignored.</summary>
    public IReadOnlyList<IPNetwork> SsmRanges { get; init; } = [IPNetwork.Parse("232.0.0.0/8")];

    /// <summary>How often the whole demand goes to the budget.</summary>
    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromSeconds(5);
}
