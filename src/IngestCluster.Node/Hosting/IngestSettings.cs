using System.Net;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Sources;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols.Driad;
using Microsoft.Extensions.Configuration;

namespace IngestCluster.Node.Hosting;

/// <summary>Section <c>Node</c>.</summary>
public sealed record NodeSettings(string DataDirectory, string Name);

/// <summary>Section <c>Cluster</c>. With no seed nodes, the node joins itself: a one-node cluster.
/// <paramref name="Hostname"/> and <paramref name="Port"/> are what other members reach this node at (its cluster
/// address); <paramref name="BindHostname"/> and <paramref name="BindPort"/> are where it listens, for NAT and
/// containers.</summary>
public sealed record ClusterSettings(
    string Hostname,
    int Port,
    IReadOnlyList<string> SeedNodes,
    string SystemName,
    string BindHostname,
    int BindPort,
    string ConfigFile)
{
    /// <summary>This node's cluster address.</summary>
    public string SelfAddress => $"akka.tcp://{SystemName}@{Hostname}:{Port}";
}

/// <summary>Section <c>Persistence</c>: where the budget's decisions are journaled.</summary>
public sealed record PersistenceSettings(string Provider, string ConnectionString)
{
    /// <summary>linq2db's provider name for Akka.Persistence.Sql.</summary>
    public string Linq2DbProvider => Provider switch
    {
        "postgresql" => "PostgreSQL.15",
        _ => "SQLite.MS",
    };
}

/// <summary>Section <c>Demand</c> (the parts that are not PIM).</summary>
public sealed record JoinfileSettings(string? Path, TimeSpan Debounce, string? ExportAdmittedTo, TimeSpan SnapshotInterval);

/// <summary>Section <c>Egress</c>. <paramref name="HostsSources"/>: whether this node hosts source entities (and so
/// tunnels): nodes with an egress interface do, a standalone node does, a cluster member without egress does not.
/// <paramref name="Socket"/>: <c>Egress:Socket</c>, the socket the egress sends by; null (<c>auto</c>) takes a packet
/// socket where the interface allows one, else a raw socket.</summary>
public sealed record EgressSettings(string? Interface, int Batch, bool HostsSources, IngestCluster.Node.Egress.EgressSocket? Socket = null);

/// <summary>Section <c>Admin</c>. <paramref name="MetricsFlowLimit"/>: how many (S,G) flows may have per-flow series in
/// <c>/metrics</c> at once (<c>Admin:MetricsFlowLimit</c>); flows over it are counted in
/// <c>ingest_flow_series_capped_total</c> instead.</summary>
public sealed record AdminSettings(string Url, string? Token, int MetricsFlowLimit = NodeMetrics.DefaultMaxFlowSeries);

/// <summary>Everything the node reads at start, validated. Every key, its default and its unit are in
/// docs/settings.md.</summary>
public sealed record IngestSettings(
    NodeSettings Node,
    ClusterSettings Cluster,
    PersistenceSettings Persistence,
    JoinfileSettings Joinfile,
    BudgetSettings Budget,
    EgressSettings Egress,
    AdminSettings Admin,
    DriadResolverOptions Dns,
    SourceSettings Sources,
    GatewayOptions Tunnels,
    IReadOnlyList<PimInterfaceSettings> Pim,
    IConfiguration Configuration)
{
    /// <summary>The tunnels' data-plane keys (<c>Tunnels:Interface</c>, <c>Tunnels:ReceiveThreads</c>, ...).</summary>
    public TunnelSocketOptions TunnelSockets { get; init; } = TunnelSocketOptions.Default;

    public const int DefaultAdminPort = 9110;
    public const int DefaultClusterPort = 4053;

    /// <summary>Reads and validates; throws <see cref="SettingsException"/> naming every bad key.</summary>
    public static IngestSettings Read(IConfiguration config, out SettingsReader reader)
    {
        var r = reader = new SettingsReader(config);
        string dataDirectory = Path.GetFullPath(r.String("Node:DataDirectory", "./data"));
        string hostname = r.String("Cluster:Hostname", "127.0.0.1");
        int port = r.Int("Cluster:Port", DefaultClusterPort, 0, 65535);
        var seeds = r.List("Cluster:SeedNodes");
        foreach (var seed in seeds)
        {
            if (!seed.StartsWith("akka.tcp://", StringComparison.Ordinal) || !Uri.TryCreate(seed, UriKind.Absolute, out _))
            {
                r.Fail("Cluster:SeedNodes", seed, "a cluster address such as akka.tcp://ingest@10.0.0.1:4053");
            }
        }
        var cluster = new ClusterSettings(
            hostname,
            port,
            seeds,
            r.String("Cluster:SystemName", "ingest"),
            r.String("Cluster:BindHostname", hostname),
            r.Int("Cluster:BindPort", port, 0, 65535),
            Path.GetFullPath(r.String("Cluster:ConfigFile", Path.Combine(AppContext.BaseDirectory, "cluster-config", "cluster.conf"))));
        if (!File.Exists(cluster.ConfigFile))
        {
            r.Fail("Cluster:ConfigFile", cluster.ConfigFile, "an existing HOCON file (cluster-config/cluster.conf ships next to the program)");
        }
        // Unique and stable by default: two nodes on one host differ by port, where a host name would collide.
        var node = new NodeSettings(dataDirectory, r.String("Node:Name", $"{hostname}:{port}"));

        string provider = r.String("Persistence:Provider", "sqlite").ToLowerInvariant();
        if (provider is not ("sqlite" or "postgresql"))
        {
            r.Fail("Persistence:Provider", provider, "sqlite or postgresql");
        }
        string connection = r.String("Persistence:ConnectionString",
            provider == "sqlite" ? $"Data Source={Path.Combine(dataDirectory, "ingest.db")}" : "");
        if (connection.Length == 0)
        {
            r.Fail("Persistence:ConnectionString", connection, "a connection string for " + provider);
        }

        bool hasPim = r.Children("Demand:Pim:Interfaces").Count > 0;
        // With no PIM interface, demand comes from a joinfile in the data directory; "off" turns it off.
        string? joinfile = r.OptionalString("Demand:Joinfile") ?? (hasPim ? null : Path.Combine(dataDirectory, "joinfile.csv"));
        if (string.Equals(joinfile, "off", StringComparison.OrdinalIgnoreCase))
        {
            joinfile = null;
        }
        var joinfiles = new JoinfileSettings(
            joinfile is null ? null : Path.GetFullPath(joinfile),
            r.Duration("Demand:JoinfileDebounce", TimeSpan.FromMilliseconds(300), TimeSpan.Zero, TimeSpan.FromMinutes(1)),
            r.OptionalString("Demand:ExportAdmittedTo") is { } export ? Path.GetFullPath(export) : null,
            r.Duration("Demand:SnapshotInterval", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)));

        var budget = new BudgetSettings
        {
            ReconcileInterval = r.Duration("Budget:ReconcileInterval", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            DemandGrace = r.Duration("Budget:DemandGrace", TimeSpan.FromSeconds(210), TimeSpan.Zero, TimeSpan.FromHours(24)),
            OriginTimeout = r.Duration("Budget:OriginTimeout", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            SnapshotEvery = r.Int("Budget:SnapshotEvery", 100, 1, 1_000_000),
            Limit = r.Bitrate("Budget:Limit"),
            DefaultBitrate = r.Bitrate("Budget:DefaultBitrate"),
            BlockedHoldDown = r.Duration("Budget:BlockedHoldDown", TimeSpan.FromSeconds(150), TimeSpan.Zero, TimeSpan.FromHours(24)),
            MetadataWait = r.Duration("Budget:MetadataWait", TimeSpan.FromSeconds(3), TimeSpan.Zero, TimeSpan.FromMinutes(5)),
            Metadata = new Budget.Metadata.MetadataSettings
            {
                Enabled = r.Bool("Budget:Metadata:Enabled", true),
                Timeout = r.Duration("Budget:Metadata:Timeout", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(2)),
                MaxConcurrent = r.Int("Budget:Metadata:MaxConcurrent", 8, 1, 1024),
                NegativeTtl = r.Duration("Budget:Metadata:NegativeTtl", TimeSpan.FromMinutes(2), TimeSpan.Zero, TimeSpan.FromDays(1)),
                MinTtl = r.Duration("Budget:Metadata:MinTtl", TimeSpan.FromSeconds(30), TimeSpan.Zero, TimeSpan.FromDays(1)),
                MaxTtl = r.Duration("Budget:Metadata:MaxTtl", TimeSpan.FromHours(1), TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)),
                CaBundle = r.OptionalString("Budget:Metadata:CaBundle") is { } ca ? Path.GetFullPath(ca) : null,
                MaxBodyBytes = r.Int("Budget:Metadata:MaxBodyBytes", 64 * 1024, 1024, 16 * 1024 * 1024),
            },
        };
        if (budget.Metadata.CaBundle is { } bundle && !File.Exists(bundle))
        {
            r.Fail("Budget:Metadata:CaBundle", bundle, "a PEM file of CA certificates that exists");
        }
        if (budget.Metadata.MinTtl > budget.Metadata.MaxTtl)
        {
            r.Fail("Budget:Metadata:MinTtl", SettingsReader.Format(budget.Metadata.MinTtl), $"at most Budget:Metadata:MaxTtl ({SettingsReader.Format(budget.Metadata.MaxTtl)})");
        }

        string? egressInterface = r.OptionalString("Egress:Interface");
        bool standalone = seeds.Count == 0;
        IngestCluster.Node.Egress.EgressSocket? egressSocket = r.String("Egress:Socket", "auto").ToLowerInvariant() switch
        {
            "auto" => null,
            "packet" => IngestCluster.Node.Egress.EgressSocket.Packet,
            "raw" => IngestCluster.Node.Egress.EgressSocket.Raw,
            var other => Invalid(other),
        };
        IngestCluster.Node.Egress.EgressSocket? Invalid(string value)
        {
            r.Fail("Egress:Socket", value, "auto, packet or raw");
            return null;
        }
        var egress = new EgressSettings(egressInterface, r.Int("Egress:Batch", 64, 1, 1024),
            r.Bool("Sources:Host", egressInterface is not null || standalone), egressSocket);

        string adminUrl = r.String("Admin:Url", $"http://127.0.0.1:{DefaultAdminPort}");
        string? token = r.OptionalString("Admin:Token");
        int metricsFlowLimit = r.Int("Admin:MetricsFlowLimit", NodeMetrics.DefaultMaxFlowSeries, 0, 1_000_000);
        if (!Uri.TryCreate(adminUrl, UriKind.Absolute, out var adminUri) || adminUri.Scheme != "http")
        {
            r.Fail("Admin:Url", adminUrl, "an http URL such as http://127.0.0.1:9110");
        }
        else if (!adminUri.IsLoopback && token is null)
        {
            r.Fail("Admin:Token", null, "a token: the admin API is bound to a non-loopback address");
        }

        var dns = new DriadResolverOptions
        {
            NameServers = [.. r.List("Dns:Servers").Select(s => r.Endpoint("Dns:Servers", s, 53)).OfType<IPEndPoint>()],
            Timeout = r.Duration("Dns:Timeout", TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1)),
            Retries = r.Int("Dns:Retries", 2, 0, 10),
            NegativeTtl = r.Duration("Dns:NegativeTtl", TimeSpan.FromSeconds(60), TimeSpan.Zero, TimeSpan.FromHours(24)),
            MinimumTtl = r.Duration("Dns:MinimumTtl", TimeSpan.FromSeconds(5), TimeSpan.Zero, TimeSpan.FromHours(1)),
            MaximumTtl = r.Duration("Dns:MaximumTtl", TimeSpan.FromHours(1), TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)),
        };

        var overrides = new List<RelayOverride>();
        foreach (var entry in r.Children("Relays:Overrides"))
        {
            string key = $"Relays:Overrides:{entry.Key}";
            if (!IPNetwork.TryParse(entry["Prefix"], out var prefix))
            {
                r.Fail($"{key}:Prefix", entry["Prefix"], "a source prefix such as 162.250.136.0/22");
                continue;
            }
            if (r.Endpoint($"{key}:Relay", entry["Relay"], AmtRelayRecord.AmtPort) is { } relay)
            {
                overrides.Add(new RelayOverride(prefix, relay));
            }
        }
        var sources = new SourceSettings
        {
            BackoffMin = r.Duration("Sources:BackoffMin", TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)),
            BackoffMax = r.Duration("Sources:BackoffMax", TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)),
            DefaultHoldDown = r.Duration("Sources:RelayHoldDown", TimeSpan.FromMinutes(5), TimeSpan.Zero, TimeSpan.FromHours(24)),
            NoRelayRetry = r.Duration("Sources:NoRelayRetry", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1), TimeSpan.FromHours(24)),
            HandOffLinger = r.Duration("Sources:HandOffLinger", TimeSpan.FromSeconds(6), TimeSpan.Zero, TimeSpan.FromMinutes(1)),
            PrepareFor = r.Duration("Sources:PrepareFor", TimeSpan.FromSeconds(10), TimeSpan.Zero, TimeSpan.FromMinutes(10)),
            Overrides = new RelayOverrideTable(overrides, r.Bool("Relays:ConsultOverridesFirst", false)),
        };

        var tunnels = new GatewayOptions
        {
            NoDataTimeout = r.Duration("Tunnels:NoDataTimeout", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            MaxUnansweredAttempts = r.Int("Tunnels:MaxUnansweredAttempts", 5, 1, 100),
            RequestsBeforeRediscovery = r.Int("Tunnels:RequestsBeforeRediscovery", 3, 1, 100),
            HoldDownMin = r.Duration("Tunnels:HoldDownMin", TimeSpan.FromMinutes(3), TimeSpan.Zero, TimeSpan.FromHours(24)),
            HoldDownMax = r.Duration("Tunnels:HoldDownMax", TimeSpan.FromMinutes(10), TimeSpan.Zero, TimeSpan.FromHours(24)),
            LoadedHoldDown = r.Duration("Tunnels:LoadedHoldDown", TimeSpan.FromMinutes(10), TimeSpan.Zero, TimeSpan.FromHours(24)),
        };
        if (tunnels.HoldDownMax < tunnels.HoldDownMin)
        {
            r.Fail("Tunnels:HoldDownMax", SettingsReader.Format(tunnels.HoldDownMax), "at least Tunnels:HoldDownMin");
        }

        string? tunnelInterface = r.OptionalString("Tunnels:Interface");
        if (tunnelInterface is not null && !TunnelSocketOptions.IsValidInterfaceName(tunnelInterface))
        {
            r.Fail("Tunnels:Interface", tunnelInterface, "an interface name of 1 to 15 ASCII characters");
            tunnelInterface = null;
        }
        var tunnelSockets = new TunnelSocketOptions
        {
            Interface = tunnelInterface,
            SourceAddress = r.OptionalString("Tunnels:SourceAddress") is { } sourceAddress ? r.Address("Tunnels:SourceAddress", sourceAddress) : null,
            ReceiveThreads = r.Int("Tunnels:ReceiveThreads", Environment.ProcessorCount, 1, 256),
            Batch = egress.Batch,
            UdpGro = r.Bool("Tunnels:UdpGro", TunnelSocketOptions.Default.UdpGro),
            ReceiveBufferFloor = r.Bytes("Tunnels:ReceiveBufferFloor", TunnelSocketOptions.Default.ReceiveBufferFloor, 4 << 10, 1 << 30),
            ReceiveBufferCeiling = r.Bytes("Tunnels:ReceiveBufferCeiling", TunnelSocketOptions.Default.ReceiveBufferCeiling, 4 << 10, 1 << 30),
            ReceiveBufferTime = r.Duration("Tunnels:ReceiveBufferTime", TunnelSocketOptions.Default.ReceiveBufferTime, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(10)),
        };
        if (tunnelSockets.ReceiveBufferCeiling < tunnelSockets.ReceiveBufferFloor)
        {
            r.Fail("Tunnels:ReceiveBufferCeiling", tunnelSockets.ReceiveBufferCeiling.ToString(System.Globalization.CultureInfo.InvariantCulture) + "B",
                "at least Tunnels:ReceiveBufferFloor");
        }

        var ssm = new List<IPNetwork>();
        foreach (var range in r.List("Demand:Pim:SsmRanges"))
        {
            if (IPNetwork.TryParse(range, out var network))
            {
                ssm.Add(network);
            }
            else
            {
                r.Fail("Demand:Pim:SsmRanges", range, "a group prefix such as 232.0.0.0/8");
            }
        }
        var pim = new List<PimInterfaceSettings>();
        foreach (var entry in r.Children("Demand:Pim:Interfaces"))
        {
            string key = $"Demand:Pim:Interfaces:{entry.Key}";
            if (string.IsNullOrWhiteSpace(entry["Name"]))
            {
                r.Fail($"{key}:Name", entry["Name"], "the name of a downstream interface, e.g. eth1");
                continue;
            }
            var accept = r.List($"{key}:AcceptUpstream").Select(a => r.Address($"{key}:AcceptUpstream", a)).OfType<IPAddress>().ToList();
            var helloPeriod = r.Duration($"{key}:HelloPeriod", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromHours(5));
            pim.Add(new PimInterfaceSettings
            {
                Name = entry["Name"]!.Trim(),
                DrPriority = (uint)r.Int($"{key}:DrPriority", 1, 0, int.MaxValue),
                HelloPeriod = helloPeriod,
                HelloHoldtime = r.Duration($"{key}:HelloHoldtime", helloPeriod * 3.5, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(65534)),
                OverrideInterval = r.Duration($"{key}:OverrideInterval", TimeSpan.FromSeconds(3), TimeSpan.Zero, TimeSpan.FromMinutes(1)),
                AcceptUpstream = accept,
                ClusterAddress = r.OptionalString($"{key}:ClusterAddress") is { } vip ? r.Address($"{key}:ClusterAddress", vip) : null,
                SsmRanges = ssm.Count > 0 ? ssm : [IPNetwork.Parse("232.0.0.0/8")],
                SnapshotInterval = joinfiles.SnapshotInterval,
            });
        }

        return new IngestSettings(node, cluster, new PersistenceSettings(provider, connection), joinfiles, budget,
            egress, new AdminSettings(adminUrl, token, metricsFlowLimit), dns, sources, tunnels, pim, config)
        {
            TunnelSockets = tunnelSockets,
        };
    }
}
