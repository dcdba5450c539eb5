using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.Extensions.DependencyInjection;

namespace IngestCluster.Node.Hosting;

/// <summary>The cluster as gauges, read from this node's view of the membership at scrape time:
/// <c>ingest_cluster_members{status}</c> (Akka's member statuses, every one exported, 0 when none) and
/// <c>ingest_cluster_unreachable_members</c>.</summary>
public static class ClusterMetrics
{
    private static readonly string[] Statuses =
        [.. Enum.GetValues<MemberStatus>().Select(s => s.ToString())];

    public static void Observe(NodeMetrics metrics, IServiceProvider services)
    {
        metrics.ObserveGauge("ingest_cluster_members", "Cluster members as this node sees them, by Akka member status.",
            () => Members(services));
        metrics.ObserveGauge("ingest_cluster_unreachable_members", "Members some observer cannot reach, as this node sees them.",
            () => Cluster(services) is { } cluster ? [new Measurement<long>(cluster.State.Unreachable.Count)] : []);
    }

    private static IEnumerable<Measurement<long>> Members(IServiceProvider services)
    {
        if (Cluster(services) is not { } cluster)
        {
            return [];
        }
        var counts = Statuses.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
        foreach (var member in cluster.State.Members)
        {
            counts[member.Status.ToString()] = counts.GetValueOrDefault(member.Status.ToString()) + 1;
        }
        return counts.Select(c => new Measurement<long>(c.Value, new KeyValuePair<string, object?>("status", c.Key)));
    }

    /// <summary>The cluster once the actor system runs; null before (a scrape while the node starts) and after.</summary>
    private static Akka.Cluster.Cluster? Cluster(IServiceProvider services)
    {
        try
        {
            var system = services.GetService<ActorSystem>();
            return system is null || system.WhenTerminated.IsCompleted ? null : Akka.Cluster.Cluster.Get(system);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return null;
        }
    }
}
