using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Budget.Metadata;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Sources;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// The node's Akka set-up: the operator's HOCON from cluster-config/, the wire contract (one serializer per stage),
/// remoting with separate bind and advertised addresses, a cluster formed from seed nodes (a one-node cluster that
/// joins itself by default; stable DNS names such as a StatefulSet's serve as seeds too), persistence through Akka.Persistence.Sql (SQLite or
/// PostgreSQL), the SourceActor shard region (hosted only by nodes with an egress) and the budget singleton with its
/// proxy. Program.cs adds the node-local stages (demand, admin) on top.
/// </summary>
public static class IngestAkka
{
    /// <summary>Every ingest node has this role: the budget singleton and the split-brain resolver count them.</summary>
    public const string Role = "ingest";

    /// <summary>Nodes that host source entities (and so tunnels): those with an egress interface.</summary>
    public const string SourcesRole = "sources";

    public static AkkaConfigurationBuilder AddIngestCluster(
        this AkkaConfigurationBuilder akka,
        IngestSettings settings,
        NodeMetrics metrics,
        TimeProvider clock,
        Func<ActorSystem, IActorRegistry, Func<string, Props>> sourceEntityProps)
    {
        Directory.CreateDirectory(settings.Node.DataDirectory);
        var cluster = settings.Cluster;
        string[] roles = Roles(settings);
        string[] seeds = cluster.SeedNodes.Count > 0 ? [.. cluster.SeedNodes] : [cluster.SelfAddress];

        akka.AddHocon(File.ReadAllText(cluster.ConfigFile), HoconAddMode.Prepend)
            .WithWireContract(metrics)
            .WithRemoting(new RemoteOptions
            {
                HostName = cluster.BindHostname,
                Port = cluster.BindPort,
                PublicHostName = cluster.Hostname,
                PublicPort = cluster.Port,
            })
            .WithClustering(new ClusterOptions { SeedNodes = seeds, Roles = roles })
            // Akka.Persistence.Sql.Hosting, without WithConnectivityCheck: that call needs a linq2db method the served
            // linq2db 6.5.1 lacks. The journal's own failures are the budget's to report (docs/cluster.md).
            .WithSqlPersistence(settings.Persistence.ConnectionString, settings.Persistence.Linq2DbProvider, autoInitialize: true);

        var extractor = new SourceMessageExtractor(maxShards: 100);
        if (settings.Egress.HostsSources)
        {
            akka.WithShardRegion<SourceRegion>(
                "sources",
                sourceEntityProps,
                extractor,
                new ShardOptions
                {
                    Role = SourcesRole,
                    RememberEntities = false,
                    StateStoreMode = StateStoreMode.DData,
                    // Entities stop when their groups are empty (the budget says so); never for mere quiet.
                    ShouldPassivateIdleEntities = false,
                    HandOffStopMessage = SourceProtocol.HandOff.Instance,
                });
        }
        else
        {
            akka.WithShardRegionProxy<SourceRegion>("sources", SourcesRole, extractor);
        }
        akka.WithActors((system, registry) =>
        {
            registry.Register<ClusterFactsActor>(system.ActorOf(ClusterFactsActor.Props(settings.Persistence, metrics), "cluster-facts"));
            system.ActorOf(JournalWarmupActor.Props(settings.Node.Name.Replace(':', '-')), "journal-warmup");
        });
        akka.AddBudgetSingletonWatch(clock);
        // After the region: the budget tells the sources stage what to join. Its metadata child fetches CBACC from
        // DORMS through one client per node (the singleton may be started here more than once).
        var dorms = new Lazy<DormsClient>(() => new DormsClient(
            DriadResolver.CreateClient(settings.Dns), settings.Budget.Metadata, metrics, clock));
        return akka.WithSingleton<BandwidthBudgetActor>(
            "budget",
            (_, registry, _) => BandwidthBudgetActor.Supervised(BandwidthBudgetActor.Props(
                registry.Get<SourceRegion>(), settings.Budget, clock, metrics,
                settings.Budget.Limit is null && !settings.Budget.Metadata.Enabled
                    ? null
                    : FlowMetadataActor.Props(dorms.Value, settings.Budget.Metadata, metrics, clock))),
            new ClusterSingletonOptions { Role = Role },
            createProxyToo: true);
    }

    /// <summary>The node's roles: <see cref="Role"/>; <see cref="SourcesRole"/> when it hosts sources; and, for each
    /// downstream LAN with a cluster neighbour address, <see cref="ClusterAddressRole"/> (only those members hold it).</summary>
    public static string[] Roles(IngestSettings settings) =>
    [
        Role,
        .. settings.Egress.HostsSources ? [SourcesRole] : Array.Empty<string>(),
        .. settings.Pim.Select(p => p.ClusterAddress).OfType<System.Net.IPAddress>().Select(ClusterAddressRole),
    ];

    public static string ClusterAddressRole(System.Net.IPAddress address) => $"lan-{address}";

    /// <summary>Binds each stage's serializer to its marker interface: every message that crosses nodes, and every
    /// persisted event, has its own compact format with stable manifests (docs/wire-format.md).</summary>
    public static AkkaConfigurationBuilder WithWireContract(this AkkaConfigurationBuilder akka, NodeMetrics metrics) =>
        akka.WithCustomSerializer(DemandSerializer.Name, [typeof(DemandProtocol.IDemandWire)], s => new DemandSerializer(s, metrics))
            .WithCustomSerializer(BudgetSerializer.Name, [typeof(BudgetProtocol.IBudgetWire)], s => new BudgetSerializer(s, metrics))
            .WithCustomSerializer(SourceSerializer.Name, [typeof(SourceProtocol.ISourceWire)], s => new SourceSerializer(s, metrics));
}
