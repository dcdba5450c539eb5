using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Persistence.Sql;
using Akka.Remote.Hosting;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Sources;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// The node's Akka set-up: remoting and a cluster (one node that joins itself by default), persistence through
/// Akka.Persistence.Sql, the SourceActor shard region and the budget singleton with its proxy. Program.cs adds
/// the node-local stages (demand, admin) on top.
/// </summary>
public static class IngestAkka
{
    public const string Role = "ingest";

    /// <summary>The HOCON the hosting builders do not cover: persistence (Akka.Persistence.Sql.Hosting is not in
    /// the package registry here) and sharding's state store.</summary>
    public static string Hocon(IngestSettings settings)
    {
        string connection = settings.Persistence.ConnectionString.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\"", "\\\"", StringComparison.Ordinal);
        string provider = settings.Persistence.Linq2DbProvider;
        return $$"""
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.journal.sql {
              connection-string = "{{connection}}"
              provider-name = "{{provider}}"
              auto-initialize = on
            }
            akka.persistence.snapshot-store.sql {
              connection-string = "{{connection}}"
              provider-name = "{{provider}}"
              auto-initialize = on
            }
            # Sharding keeps its coordinator state in distributed data, not in the journal: sources need no
            # remember-entities, because the budget's reconcile tick re-creates them (docs/design.md).
            akka.cluster.sharding.state-store-mode = ddata
            akka.cluster.sharding.remember-entities = off
            akka.cluster.sharding.distributed-data.durable.keys = []
            akka.cluster.min-nr-of-members = 1
            akka.actor.ask-timeout = 5s
            """;
    }

    public static AkkaConfigurationBuilder AddIngestCluster(
        this AkkaConfigurationBuilder akka,
        IngestSettings settings,
        NodeMetrics metrics,
        TimeProvider clock,
        Func<ActorSystem, IActorRegistry, Func<string, Props>> sourceEntityProps)
    {
        Directory.CreateDirectory(settings.Node.DataDirectory);
        var cluster = settings.Cluster;
        string self = $"akka.tcp://{cluster.SystemName}@{cluster.Hostname}:{cluster.Port}";
        string[] seeds = cluster.SeedNodes.Count > 0 ? [.. cluster.SeedNodes] : [self];

        return akka
            .AddHocon(Hocon(settings), HoconAddMode.Prepend)
            .AddHocon(SqlPersistence.DefaultConfiguration, HoconAddMode.Append)
            .WithRemoting(cluster.Hostname, cluster.Port)
            .WithClustering(new ClusterOptions { SeedNodes = seeds, Roles = [Role] })
            .WithShardRegion<SourceRegion>(
                "sources",
                sourceEntityProps,
                new SourceMessageExtractor(maxShards: 100),
                new ShardOptions
                {
                    Role = Role,
                    RememberEntities = false,
                    StateStoreMode = StateStoreMode.DData,
                    // Entities stop when their groups are empty (the budget says so); never for mere quiet.
                    ShouldPassivateIdleEntities = false,
                })
            .WithSingleton<BandwidthBudgetActor>(
                "budget",
                (_, registry, _) => BandwidthBudgetActor.Props(registry.Get<SourceRegion>(), settings.Budget, clock, metrics),
                new ClusterSingletonOptions { Role = Role },
                createProxyToo: true);
    }
}
