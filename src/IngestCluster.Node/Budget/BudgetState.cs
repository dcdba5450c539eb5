using System.Collections.Immutable;
using System.Net;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>One origin's demand as the budget last heard it: each flow with the population the origin stands for.</summary>
public sealed record OriginDemand(ImmutableDictionary<SourceGroup, int> Flows, DateTimeOffset LastHeard);

/// <summary>
/// The budget singleton's state. <see cref="Admitted"/>, <see cref="Blocked"/> and <see cref="LimitOverride"/> are
/// the persisted part (rebuilt from events and snapshots); <see cref="Demand"/> is soft state that origins re-send.
/// An admitted flow's <see cref="AdmittedFlow.LastClaimed"/> says when some origin last asked for it, so a flow that
/// nobody claims after a failover or restart is released only after the grace period, not at once (the PIM routers
/// re-send their Joins only every 60 s).
/// </summary>
public sealed record BudgetState(
    AdmittedSet Admitted,
    ImmutableDictionary<SourceGroup, BudgetEvents.FlowBlocked> Blocked,
    long? LimitOverride,
    ImmutableDictionary<string, OriginDemand> Demand)
{
    public static readonly BudgetState Empty = new(
        AdmittedSet.Empty,
        ImmutableDictionary<SourceGroup, BudgetEvents.FlowBlocked>.Empty,
        null,
        ImmutableDictionary<string, OriginDemand>.Empty);

    /// <summary>Every flow some origin asks for now, with the sum of the origins' populations.</summary>
    public ImmutableDictionary<SourceGroup, int> Demanded()
    {
        // One origin with demand (a one-node cluster, or one node with receivers): its flows are the answer as they
        // are, so a decision does not rebuild a dictionary of every demanded flow.
        OriginDemand? only = null;
        int withDemand = 0;
        foreach (var origin in Demand.Values)
        {
            if (!origin.Flows.IsEmpty)
            {
                only = origin;
                withDemand++;
            }
        }
        if (withDemand == 0)
        {
            return ImmutableDictionary<SourceGroup, int>.Empty;
        }
        if (withDemand == 1)
        {
            return only!.Flows;
        }
        var demanded = ImmutableDictionary.CreateBuilder<SourceGroup, int>();
        foreach (var origin in Demand.Values)
        {
            foreach (var (flow, population) in origin.Flows)
            {
                demanded[flow] = demanded.TryGetValue(flow, out int sum) ? (int)Math.Min((long)sum + population, int.MaxValue) : population;
            }
        }
        return demanded.ToImmutable();
    }

    public BudgetState WithDemandChanged(string origin, SourceGroup flow, bool joined, int population, DateTimeOffset now)
    {
        var current = Demand.TryGetValue(origin, out var d) ? d.Flows : ImmutableDictionary<SourceGroup, int>.Empty;
        var flows = joined ? current.SetItem(flow, Math.Max(1, population)) : current.Remove(flow);
        var state = this with { Demand = Demand.SetItem(origin, new OriginDemand(flows, now)) };
        return joined ? state.Claimed([flow], now) : state;
    }

    public BudgetState WithSnapshot(string origin, ImmutableDictionary<SourceGroup, int> flows, DateTimeOffset now) =>
        (this with { Demand = Demand.SetItem(origin, new OriginDemand(flows, now)) }).Claimed(flows.Keys, now);

    /// <summary>Forgets origins that have sent nothing since <paramref name="silentSince"/>: their node is gone.</summary>
    public BudgetState WithoutSilentOrigins(DateTimeOffset silentSince) =>
        this with { Demand = Demand.RemoveRange(Demand.Where(kv => kv.Value.LastHeard < silentSince).Select(kv => kv.Key)) };

    /// <summary>Forgets these origins' demand (their node left or was downed).</summary>
    public BudgetState WithoutOrigins(IEnumerable<string> origins) => this with { Demand = Demand.RemoveRange(origins) };

    /// <summary>Drops the hold-downs that have run out (soft: replay keeps them, and they are dropped again).</summary>
    public BudgetState WithoutExpiredHolds(DateTimeOffset now)
    {
        var expired = Blocked.Where(kv => kv.Value.Until <= now).Select(kv => kv.Key).ToList();
        return expired.Count == 0 ? this : this with { Blocked = Blocked.RemoveRange(expired) };
    }

    public BudgetState Apply(BudgetEvents.IBudgetEvent e) => e switch
    {
        BudgetEvents.FlowAdmitted a => this with
        {
            Admitted = Admitted.SetItem(a.Flow, new AdmittedFlow(new Bitrate(a.BitsPerSecond), a.OffloadBitsPerSecond, a.At)),
            Blocked = Blocked.Remove(a.Flow),
        },
        BudgetEvents.FlowReleased r => this with { Admitted = Admitted.Remove(r.Flow) },
        BudgetEvents.FlowBlocked b => this with { Blocked = Blocked.SetItem(b.Flow, b) },
        BudgetEvents.LimitChanged l => this with { LimitOverride = l.BitsPerSecond },
        _ => this,
    };

    /// <summary>The state a snapshot holds (no demand: origins re-send it).</summary>
    public static BudgetState From(BudgetEvents.BudgetSnapshot snapshot)
    {
        // The admitted flows as one table at once (as applying each would, but without the changes in between).
        var state = Empty with
        {
            LimitOverride = snapshot.LimitOverride,
            Admitted = AdmittedSet.From(snapshot.Admitted.Select(a =>
                KeyValuePair.Create(a.Flow, new AdmittedFlow(new Bitrate(a.BitsPerSecond), a.OffloadBitsPerSecond, a.At)))),
        };
        foreach (var blocked in snapshot.Blocked)
        {
            state = state.Apply(blocked);
        }
        return state;
    }

    /// <summary>The persisted part, for a snapshot; each admitted flow's time is when it was last claimed.</summary>
    public BudgetEvents.BudgetSnapshot ToSnapshot() => new(
        [.. Admitted.Select(kv => new BudgetEvents.FlowAdmitted(kv.Key, kv.Value.LastClaimed, kv.Value.Bitrate.BitsPerSecond, kv.Value.Offload))],
        [.. Blocked.Values],
        LimitOverride);

    /// <summary>The admitted flows' bitrates added up.</summary>
    public Bitrate Used() => new(Admitted.Rates.Sum(a => a.Bitrate.BitsPerSecond));

    /// <summary>Groups per source for the admitted flows: what the sources stage should have joined.</summary>
    public ImmutableDictionary<IPAddress, ImmutableArray<IPAddress>> DesiredGroupsBySource() =>
        Admitted.Keys
            .GroupBy(f => f.Source)
            .ToImmutableDictionary(g => g.Key, g => g.Select(f => f.Group).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToImmutableArray());

    /// <summary>Every source with an admitted flow.</summary>
    public HashSet<IPAddress> AdmittedSources() => [.. Admitted.Keys.Select(f => f.Source)];

    /// <summary>The admitted groups of these sources only (an empty array for a source with none): what a burst's
    /// decision pushes, without grouping every admitted flow.</summary>
    public Dictionary<IPAddress, ImmutableArray<IPAddress>> DesiredGroupsOf(IReadOnlySet<IPAddress> sources)
    {
        var groups = new Dictionary<IPAddress, List<IPAddress>>(sources.Count);
        foreach (var source in sources)
        {
            groups[source] = [];
        }
        foreach (var flow in Admitted.Keys)
        {
            if (groups.TryGetValue(flow.Source, out var list))
            {
                list.Add(flow.Group);
            }
        }
        var result = new Dictionary<IPAddress, ImmutableArray<IPAddress>>(groups.Count);
        foreach (var (source, list) in groups)
        {
            result[source] = [.. list.OrderBy(a => a.ToString(), StringComparer.Ordinal)];
        }
        return result;
    }

    private BudgetState Claimed(IEnumerable<SourceGroup> flows, DateTimeOffset now)
    {
        var admitted = Admitted.Claimed(flows, now);
        return ReferenceEquals(admitted, Admitted) ? this : this with { Admitted = admitted };
    }
}
