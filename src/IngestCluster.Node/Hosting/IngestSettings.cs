using IngestCluster.Node.Budget;
using Microsoft.Extensions.Configuration;

namespace IngestCluster.Node.Hosting;

/// <summary>Section <c>Node</c>.</summary>
public sealed record NodeSettings(string DataDirectory, string Name);

/// <summary>Section <c>Cluster</c>. With no seed nodes, the node joins itself: a one-node cluster.</summary>
public sealed record ClusterSettings(string Hostname, int Port, IReadOnlyList<string> SeedNodes, string SystemName);

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

/// <summary>Section <c>Egress</c>.</summary>
public sealed record EgressSettings(string? Interface);

/// <summary>Section <c>Admin</c>.</summary>
public sealed record AdminSettings(string Url, string? Token);

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
    IConfiguration Configuration)
{
    public const int DefaultAdminPort = 9110;
    public const int DefaultClusterPort = 4053;

    /// <summary>Reads and validates; throws <see cref="SettingsException"/> naming every bad key.</summary>
    public static IngestSettings Read(IConfiguration config, out SettingsReader reader)
    {
        var r = reader = new SettingsReader(config);
        string dataDirectory = Path.GetFullPath(r.String("Node:DataDirectory", "./data"));
        var node = new NodeSettings(dataDirectory, r.String("Node:Name", Environment.MachineName));

        var cluster = new ClusterSettings(
            r.String("Cluster:Hostname", "127.0.0.1"),
            r.Int("Cluster:Port", DefaultClusterPort, 0, 65535),
            r.List("Cluster:SeedNodes"),
            r.String("Cluster:SystemName", "ingest"));

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
        };

        var egress = new EgressSettings(r.OptionalString("Egress:Interface"));

        string adminUrl = r.String("Admin:Url", $"http://127.0.0.1:{DefaultAdminPort}");
        string? token = r.OptionalString("Admin:Token");
        if (!Uri.TryCreate(adminUrl, UriKind.Absolute, out var adminUri) || adminUri.Scheme != "http")
        {
            r.Fail("Admin:Url", adminUrl, "an http URL such as http://127.0.0.1:9110");
        }
        else if (!adminUri.IsLoopback && token is null)
        {
            r.Fail("Admin:Token", null, "a token: the admin API is bound to a non-loopback address");
        }

        return new IngestSettings(node, cluster, new PersistenceSettings(provider, connection), joinfiles, budget,
            egress, new AdminSettings(adminUrl, token), config);
    }
}
