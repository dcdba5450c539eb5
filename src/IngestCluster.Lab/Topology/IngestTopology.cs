namespace IngestCluster.Lab.Topology;

/// <summary>
/// The one-node end-to-end lab, in five namespaces:
/// <code>
///  rcv (r0 10.91.1.2) ── (r1 10.91.1.1) rtr: FRR pimd (u0 10.91.2.1) ── (d0 10.91.2.2) ing: ingest node, bind9
///  ing (w0 10.91.3.2) ── (a0 10.91.3.1) rly: AMT relay (b0 10.91.4.1) ── (s0 10.91.4.2) src: multicast source
/// </code>
/// bind9 in <c>ing</c> (127.0.0.1:5353) serves AMTRELAY records: 10.91.4.2 → relay 10.91.3.1 (type 1);
/// 10.91.5.2 → no record; 10.91.6.2 → 10.91.3.9, where nobody answers; 10.91.7.2 → type 0, no relay.
/// 10.91.4.2 also has a <c>_dorms._tcp</c> SRV record naming dorms.lab.example:8443 (127.0.0.1), where a test may
/// start the lab DORMS server.
/// FRR routes 10.91.4.0/22 (all four sources) towards the ingest node, so its Joins for them go there.
/// </summary>
public sealed class IngestTopology : IAsyncDisposable
{
    public const string Source = "10.91.4.2";
    public const string SourceWithoutRecord = "10.91.5.2";
    public const string SourceWithDeadRelay = "10.91.6.2";
    public const string SourceWithNoRelay = "10.91.7.2";
    public const string DeadRelay = "10.91.3.9";
    public const string Relay = "10.91.3.1";
    public const string IngestDownstream = "10.91.2.2";
    public const string RouterUpstream = "10.91.2.1";
    public const string Receiver = "10.91.1.2";
    public const string DnsServer = "127.0.0.1:5353";
    public const string AdminUrl = "http://127.0.0.1:9110";
    public const string DormsName = "dorms.lab.example";
    public const int DormsPort = 8443;

    private IngestTopology(NetnsLab lab, FrrRouter router, Bind9Server dns)
    {
        Lab = lab;
        Router = router;
        Dns = dns;
    }

    public NetnsLab Lab { get; }

    public FrrRouter Router { get; }

    public Bind9Server Dns { get; }

    public static async Task<IngestTopology> Create(string purpose)
    {
        var lab = NetnsLab.Create(purpose);
        try
        {
            foreach (var ns in new[] { "rcv", "rtr", "ing", "rly", "src" })
            {
                lab.AddNamespace(ns);
            }
            lab.Link("rcv", "r0", "10.91.1.2/24", "rtr", "r1", "10.91.1.1/24");
            lab.Link("rtr", "u0", "10.91.2.1/24", "ing", "d0", "10.91.2.2/24");
            lab.Link("ing", "w0", "10.91.3.2/24", "rly", "a0", "10.91.3.1/24");
            lab.Link("rly", "b0", "10.91.4.1/24", "src", "s0", "10.91.4.2/24");
            lab.Exec("rcv", "ip", "route", "add", "default", "via", "10.91.1.1");
            lab.Exec("src", "ip", "route", "add", "default", "via", "10.91.4.1");
            lab.Exec("src", "ip", "route", "add", "232.0.0.0/8", "dev", "s0");
            lab.Sysctl("rtr", "net.ipv4.ip_forward", "1");
            lab.Sysctl("rcv", "net.ipv4.conf.r0.force_igmp_version", "3");
            lab.Sysctl("rly", "net.ipv4.conf.b0.force_igmp_version", "3");

            var router = await FrrRouter.Start(lab, "rtr",
                zebraConf: "hostname rtr\nip nht resolve-via-default\n",
                staticdConf: $"ip route 10.91.4.0/22 {IngestDownstream}\n",
                pimdConf: "interface r1\n ip pim\n ip igmp\n!\ninterface u0\n ip pim\n!\n");

            var dns = await Bind9Server.Start(lab, "ing", "127.0.0.1", 5353, Zones());
            return new IngestTopology(lab, router, dns);
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string> Zones()
    {
        static string Zone(string origin, string records) => Bind9Server.ZoneFile(origin, records);
        return new Dictionary<string, string>
        {
            ["4.91.10.in-addr.arpa"] = Zone("4.91.10.in-addr.arpa", $"2 IN AMTRELAY 10 0 1 {Relay}\n_dorms._tcp.2 IN SRV 0 0 {DormsPort} {DormsName}."),
            // The lab DORMS server's name (it listens on 127.0.0.1 in ing, where the node runs).
            ["lab.example"] = Zone("lab.example", "ns IN A 127.0.0.1\ndorms IN A 127.0.0.1"),
            ["5.91.10.in-addr.arpa"] = Zone("5.91.10.in-addr.arpa", "; no AMTRELAY record for 10.91.5.2"),
            ["6.91.10.in-addr.arpa"] = Zone("6.91.10.in-addr.arpa", $"2 IN AMTRELAY 10 0 1 {DeadRelay}"),
            ["7.91.10.in-addr.arpa"] = Zone("7.91.10.in-addr.arpa", "2 IN AMTRELAY 255 0 0 ."),
        };
    }

    /// <summary>Where the built programs are: next to the calling assembly (the test or bench output).</summary>
    /// <summary>Where a test's receivers of the node's stream stand: behind FRR (<c>rcv</c>, r0) when the kernel routes
    /// multicast, else on the node's own downstream LAN (<c>rtr</c>, u0), which the node's egress reaches with no router
    /// between (<see cref="KernelSupport.MulticastRouting"/>).</summary>
    public static (string Namespace, string Interface) Receivers =>
        KernelSupport.MulticastRouting ? ("rcv", "r0") : ("rtr", "u0");

    public static string Program(string name) => Path.Combine(AppContext.BaseDirectory, $"{name}.dll");

    /// <summary>The node program the labs start: the one built next to the caller, or the IngestCluster.Node.dll named
    /// by <c>INGEST_LAB_NODE</c> (a published one, e.g. ReadyToRun, to measure its cold start).</summary>
    public static string NodeProgram =>
        Environment.GetEnvironmentVariable("INGEST_LAB_NODE") is { Length: > 0 } node ? node : Program("IngestCluster.Node");

    public LabProcess StartNode(string dataDirectory, params string[] extraArgs) =>
        Lab.Start("ing", "node", "dotnet",
        [
            NodeProgram,
            $"--Node:DataDirectory={dataDirectory}",
            "--Node:Name=lab-ingest",
            "--Demand:Pim:Interfaces:0:Name=d0",
            "--Egress:Interface=d0",
            $"--Dns:Servers:0={DnsServer}",
            $"--Admin:Url={AdminUrl}",
            .. extraArgs,
        ]);

    public LabProcess StartLab(string ns, string processName, params string[] args) =>
        Lab.Start(ns, processName, "dotnet", [Program("IngestCluster.Lab"), .. args]);

    /// <summary>The node's /status JSON, read from inside its namespace.</summary>
    public string NodeStatus() => Lab.Exec("ing", "curl", "-sf", "--max-time", "5", $"{AdminUrl}/status");

    public string NodeMetrics() => Lab.Exec("ing", "curl", "-sf", "--max-time", "5", $"{AdminUrl}/metrics");

    public ValueTask DisposeAsync() => Lab.DisposeAsync();
}
