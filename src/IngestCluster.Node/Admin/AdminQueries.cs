using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using IngestCluster.Admin.Contracts;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Protocols;
using Microsoft.Extensions.DependencyInjection;

namespace IngestCluster.Node.Admin;

/// <summary>Builds the admin resources from the node's actors and counters. Every ask is local (this node's budget
/// proxy, shard region, listeners), with a deadline; what did not answer is reported, not hidden.</summary>
internal static class AdminQueries
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);

    public static ClusterView Cluster(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.UniqueAddress).ToHashSet();
        var members = state.Members
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .Select(m => new MemberView(m.Address.ToString(), m.Status.ToString(), [.. m.Roles.Order(StringComparer.Ordinal)],
                !unreachable.Contains(m.UniqueAddress)))
            .ToList();
        return new ClusterView(cluster.SelfAddress.ToString(), cluster.SelfMember.Status.ToString(), state.Leader?.ToString(), members);
    }

    public static ShardingView Sharding(ActorSystem system) =>
        new([.. ClusterSharding.Get(system).ShardTypeNames.Order(StringComparer.Ordinal)]);

    public static async Task<RegionView?> RegionAsync(ActorSystem system, string typeName)
    {
        if (!TryRegion(system, typeName, out var region))
        {
            return null;
        }
        var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, AskTimeout);
        var shards = state.Shards
            .OrderBy(s => s.ShardId, StringComparer.Ordinal)
            .Select(s => new ShardView(s.ShardId, s.EntityIds.Count, [.. s.EntityIds.Order(StringComparer.Ordinal)]))
            .ToList();
        return new RegionView(typeName, Akka.Cluster.Cluster.Get(system).SelfAddress.ToString(), shards,
            [.. state.Failed.Order(StringComparer.Ordinal)]);
    }

    public static async Task<ClusterShardsView?> ClusterShardsAsync(ActorSystem system, string typeName)
    {
        if (!TryRegion(system, typeName, out var region))
        {
            return null;
        }
        var stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(AskTimeout), AskTimeout + TimeSpan.FromSeconds(2));
        var regions = stats.Regions
            .OrderBy(r => r.Key.ToString(), StringComparer.Ordinal)
            .Select(r => new RegionShardsView(r.Key.ToString(),
                [.. r.Value.Stats.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new ShardView(s.Key, s.Value, []))],
                [.. r.Value.Failed.Order(StringComparer.Ordinal)]))
            .ToList();
        return new ClusterShardsView(typeName, regions);
    }

    private static bool TryRegion(ActorSystem system, string typeName, out IActorRef region)
    {
        region = ActorRefs.Nobody;
        var sharding = ClusterSharding.Get(system);
        if (!sharding.ShardTypeNames.Contains(typeName))
        {
            return false;
        }
        region = sharding.ShardRegion(typeName);
        return true;
    }

    /// <summary>The actor tree under the user and system guardians, to <paramref name="depth"/> levels below them.</summary>
    public static ActorTreeView Actors(ActorSystem system, int depth)
    {
        var extended = (ExtendedActorSystem)system;
        return new ActorTreeView(Akka.Cluster.Cluster.Get(system).SelfAddress.ToString(), depth,
            [Tree(extended.Guardian, depth), Tree(extended.SystemGuardian, depth)]);
    }

    private static ActorView Tree(IActorRef actor, int depth)
    {
        IReadOnlyList<ActorView> children = depth > 0 && actor is ActorRefWithCell withCell
            ? [.. withCell.Children.OrderBy(c => c.Path.Name, StringComparer.Ordinal).Select(c => Tree(c, depth - 1))]
            : [];
        return new ActorView(actor.Path.ToStringWithoutAddress(), children);
    }

    public static async Task<FlowsView> FlowsAsync(IServiceProvider services)
    {
        string node = SelfAddress(services);
        var (admitted, error) = await AdmittedAsync(services);
        if (admitted is null)
        {
            return new FlowsView(node, [], error);
        }
        var statuses = await StatusesAsync(services, admitted.Flows.Select(f => f.Source).Distinct());
        var metrics = services.GetRequiredService<NodeMetrics>();
        var flows = admitted.Flows
            .OrderBy(f => f.Source.ToString(), StringComparer.Ordinal).ThenBy(f => f.Group.ToString(), StringComparer.Ordinal)
            .Select(f =>
            {
                statuses.TryGetValue(f.Source, out var status);
                var counters = CountersOf(status, f, node, metrics);
                return new FlowView(f.Source.ToString(), f.Group.ToString(), status?.State ?? "unknown", status?.Node,
                    counters?.Packets, counters?.Bytes, counters?.Drops);
            })
            .ToList();
        return new FlowsView(node, flows, null);
    }

    public static async Task<SourcesView> SourcesAsync(IServiceProvider services)
    {
        var (admitted, error) = await AdmittedAsync(services);
        if (admitted is null)
        {
            return new SourcesView([], [], error);
        }
        var sources = admitted.Flows.Select(f => f.Source).Distinct().ToList();
        var statuses = await StatusesAsync(services, sources);
        return new SourcesView(
            [.. statuses.Values.OrderBy(s => s.Source, StringComparer.Ordinal)
                .Select(s => new SourceView(s.Source, s.State, s.Relay, s.Detail, [.. s.Groups], [.. s.HeldDownRelays], s.Node))],
            [.. sources.Where(s => !statuses.ContainsKey(s)).Select(s => s.ToString()).Order(StringComparer.Ordinal)],
            null);
    }

    public static async Task<TunnelsView> TunnelsAsync(IServiceProvider services)
    {
        string node = SelfAddress(services);
        var metrics = services.GetRequiredService<NodeMetrics>();
        var counters = metrics.Snapshot()
            .Where(c => c.Name.StartsWith("ingest_tunnel_", StringComparison.Ordinal) || c.Name == "ingest_source_tunnels_started_total")
            .ToDictionary(c => c.Labels.Length == 0 ? c.Name : $"{c.Name}{{{c.Labels}}}", c => c.Value, StringComparer.Ordinal);
        var (admitted, error) = await AdmittedAsync(services);
        if (admitted is null)
        {
            return new TunnelsView([], counters, error);
        }
        var statuses = await StatusesAsync(services, admitted.Flows.Select(f => f.Source).Distinct());
        var tunnels = statuses.Values
            .Where(s => s.Relay is not null)
            .OrderBy(s => s.Source, StringComparer.Ordinal)
            .Select(s =>
            {
                var flows = admitted.Flows.Where(f => f.Source.ToString() == s.Source).Select(f => CountersOf(s, f, node, metrics)).ToList();
                bool known = flows.All(c => c is not null);
                return new TunnelView(s.Source, s.Relay, s.State, s.Node, s.Groups.Length,
                    known ? flows.Sum(c => c!.Value.Packets) : null, known ? flows.Sum(c => c!.Value.Bytes) : null, known ? flows.Sum(c => c!.Value.Drops) : null);
            })
            .ToList();
        return new TunnelsView(tunnels, counters, null);
    }

    public static async Task<PimView> PimAsync(IServiceProvider services)
    {
        var interfaces = new List<PimInterfaceView>();
        foreach (var listener in services.GetRequiredService<PimListeners>().All)
        {
            try
            {
                var state = await listener.Ask<PimState>(GetPimState.Instance, AskTimeout);
                interfaces.Add(new PimInterfaceView(state.Interface, state.GenerationId,
                    [.. state.Neighbors.Select(n => new PimNeighborView(n.Address.ToString(), n.GenerationId, n.DrPriority, n.ExpiresAt))],
                    [.. state.Demand.Select(d => new PimJoinView(d.Flow.Source.ToString(), d.Flow.Group.ToString(), FrrName(d.State),
                        state.ExpiresAt.TryGetValue(d.Flow, out var at) ? at : null))],
                    null));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                interfaces.Add(new PimInterfaceView(listener.Path.Name, 0, [], [], $"did not answer within {AskTimeout.TotalSeconds:0} s"));
            }
        }
        return new PimView(SelfAddress(services), interfaces);
    }

    /// <summary>FRR's names for the downstream (S,G) states (pimd's <c>pim_ifchannel_ifjoin_name</c>).</summary>
    private static string FrrName(DownstreamState state) => state switch
    {
        DownstreamState.Join => "JOIN",
        DownstreamState.PrunePending => "PRUNEP",
        _ => "NOINFO",
    };

    public static RelayOverridesView Overrides(RelayOverrideStore store, IngestSettings settings) =>
        new(settings.Node.Name, store.ConsultBeforeDns,
            [.. store.Entries.Select(e => new RelayOverrideView(e.Prefix.ToString(), e.Relay, e.ResolvedTo?.ToString(), e.FromSettings))]);

    /// <summary>A flow's counters as the node hosting its source counts them: from the source's status (which any
    /// node gets through sharding), or from this node's own metrics when it hosts the source and the status has none
    /// (a member older than the counters); null when neither knows.</summary>
    private static (long Packets, long Bytes, long Drops)? CountersOf(SourceProtocol.SourceStatus? status, SourceGroup flow, string node, NodeMetrics metrics)
    {
        if (status is null)
        {
            return null;
        }
        if (!status.Counters.IsDefaultOrEmpty)
        {
            string group = flow.Group.ToString();
            foreach (var c in status.Counters)
            {
                if (c.Group == group)
                {
                    return (c.Packets, c.Bytes, c.Drops);
                }
            }
        }
        return status.Node == node ? metrics.FlowTotals(flow) : null;
    }

    private static async Task<(BudgetProtocol.AdmittedFlows? Flows, string? Error)> AdmittedAsync(IServiceProvider services)
    {
        try
        {
            var budget = services.GetRequiredService<ActorRegistry>().Get<BandwidthBudgetActor>();
            return (await budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, AskTimeout), null);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"the budget singleton did not answer within {AskTimeout.TotalSeconds:0} s"));
        }
    }

    /// <summary>Each source's status from its entity, wherever sharding put it; sources that did not answer are
    /// left out.</summary>
    private static async Task<Dictionary<System.Net.IPAddress, SourceProtocol.SourceStatus>> StatusesAsync(IServiceProvider services,
        IEnumerable<System.Net.IPAddress> sources)
    {
        var region = services.GetRequiredService<ActorRegistry>().Get<SourceRegion>();
        var asks = sources.Select(async s =>
        {
            try
            {
                return (s, await region.Ask<SourceProtocol.SourceStatus>(new SourceProtocol.GetSourceStatus(s), AskTimeout));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return (s, (SourceProtocol.SourceStatus?)null);
            }
        });
        var answers = await Task.WhenAll(asks);
        return answers.Where(a => a.Item2 is not null).ToDictionary(a => a.s, a => a.Item2!);
    }

    private static string SelfAddress(IServiceProvider services) =>
        Akka.Cluster.Cluster.Get(services.GetRequiredService<ActorSystem>()).SelfAddress.ToString();
}
