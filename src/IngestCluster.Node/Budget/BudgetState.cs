using System.Collections.Immutable;
using System.Net;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>One origin's demand as the budget last heard it.</summary>
public sealed record OriginDemand(ImmutableHashSet<SourceGroup> Flows, DateTimeOffset LastHeard);

/// <summary>
/// The budget singleton's state. <see cref="Admitted"/> is the persisted part (rebuilt from events);
/// <see cref="Demand"/> is soft state that origins re-send. <see cref="LastClaimed"/> says when some origin last
/// asked for an admitted flow, so a flow that nobody claims after a failover or restart is released only after
/// the grace period, not at once (the PIM routers re-send their Joins only every 60 s).
/// </summary>
public sealed record BudgetState(
    ImmutableDictionary<SourceGroup, DateTimeOffset> Admitted,
    ImmutableDictionary<string, OriginDemand> Demand,
    ImmutableDictionary<SourceGroup, DateTimeOffset> LastClaimed)
{
    public static readonly BudgetState Empty = new(
        ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty,
        ImmutableDictionary<string, OriginDemand>.Empty,
        ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty);

    /// <summary>Every flow some origin currently asks for.</summary>
    public ImmutableHashSet<SourceGroup> Demanded() =>
        Demand.Values.SelectMany(d => d.Flows).ToImmutableHashSet();

    public BudgetState WithDemandChanged(string origin, SourceGroup flow, bool joined, DateTimeOffset now)
    {
        var current = Demand.TryGetValue(origin, out var d) ? d.Flows : [];
        var flows = joined ? current.Add(flow) : current.Remove(flow);
        var state = this with { Demand = Demand.SetItem(origin, new OriginDemand(flows, now)) };
        return joined ? state.Claimed([flow], now) : state;
    }

    public BudgetState WithSnapshot(string origin, IEnumerable<SourceGroup> flows, DateTimeOffset now)
    {
        var set = flows.ToImmutableHashSet();
        return (this with { Demand = Demand.SetItem(origin, new OriginDemand(set, now)) }).Claimed(set, now);
    }

    /// <summary>Forgets origins that have sent nothing since <paramref name="silentSince"/>: their node is gone.</summary>
    public BudgetState WithoutSilentOrigins(DateTimeOffset silentSince) =>
        this with { Demand = Demand.RemoveRange(Demand.Where(kv => kv.Value.LastHeard < silentSince).Select(kv => kv.Key)) };

    /// <summary>Forgets these origins' demand (their node left or was downed).</summary>
    public BudgetState WithoutOrigins(IEnumerable<string> origins) => this with { Demand = Demand.RemoveRange(origins) };

    public BudgetState Apply(BudgetEvents.IBudgetEvent e) => e switch
    {
        BudgetEvents.FlowAdmitted a => this with
        {
            Admitted = Admitted.SetItem(a.Flow, a.At),
            LastClaimed = LastClaimed.SetItem(a.Flow, a.At),
        },
        BudgetEvents.FlowReleased r => this with
        {
            Admitted = Admitted.Remove(r.Flow),
            LastClaimed = LastClaimed.Remove(r.Flow),
        },
        _ => this,
    };

    /// <summary>Groups per source for the admitted flows: what the sources stage should have joined.</summary>
    public ImmutableDictionary<IPAddress, ImmutableArray<IPAddress>> DesiredGroupsBySource() =>
        Admitted.Keys
            .GroupBy(f => f.Source)
            .ToImmutableDictionary(g => g.Key, g => g.Select(f => f.Group).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToImmutableArray());

    private BudgetState Claimed(IEnumerable<SourceGroup> flows, DateTimeOffset now)
    {
        var claimed = LastClaimed;
        foreach (var flow in flows)
        {
            if (Admitted.ContainsKey(flow))
            {
                claimed = claimed.SetItem(flow, now);
            }
        }
        return this with { LastClaimed = claimed };
    }
}
