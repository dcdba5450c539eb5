using System.Globalization;

namespace IngestCluster.Lab.Topology;

/// <summary>
/// The three-node lab, in network namespaces:
/// <code>
///  rcv (r0 10.93.1.2) ── (r1 10.93.1.1) rtr: FRR pimd (u0 10.93.2.1) ─┐
///                                                                     dlan: the downstream LAN (a bridge in lan)
///  n1, n2, n3: ingest nodes, d0 10.93.2.11-13 ────────────────────────┘   cluster neighbour address 10.93.2.10
///             c0 10.93.9.11-13 ── clan: the cluster network (remoting; a partition cuts one node's c0)
///             w0 10.93.3.11-13 ── wlan: the upstream network ── (a0 10.93.3.1) rly: AMT relay, bind9 on :5353
///  rly (b0 10.93.4.1) ── (s0 10.93.4.2-13) src: the multicast sources
/// </code>
/// FRR routes 10.93.4.0/24 (every source) towards the cluster's neighbour address, not any node's own, so its Joins
/// survive the loss of any node. Source i is 10.93.4.(2+i) sending to 232.1.1.(1+i); bind9 points each at the relay.
/// The nodes share one SQLite journal (one host); Hellos are every 5 s with a 17.5 s holdtime, so "the flows outlive
/// the router's neighbour holdtime" takes seconds to show, not minutes.
/// </summary>
public sealed class ClusterTopology : IAsyncDisposable
{
    public const string ClusterAddress = "10.93.2.10";
    public const string RouterDownstream = "10.93.2.1";
    public const string Relay = "10.93.3.1";
    public const int Sources = 12;
    public const int Port = 5001;
    public const string AdminUrl = "http://127.0.0.1:9110";
    public static readonly TimeSpan HelloHoldtime = TimeSpan.FromSeconds(17.5);

    private readonly Dictionary<int, LabProcess> _nodes = [];
    private readonly Dictionary<int, int> _starts = [];
    private int _receivers;

    private ClusterTopology(NetnsLab lab, FrrRouter router, Bind9Server dns)
    {
        Lab = lab;
        Router = router;
        Dns = dns;
    }

    public NetnsLab Lab { get; }

    public FrrRouter Router { get; }

    public Bind9Server Dns { get; }

    public static string Source(int i) => $"10.93.4.{2 + i}";

    public static string Group(int i) => $"232.1.1.{1 + i}";

    public static string NodeNamespace(int node) => $"n{node}";

    public static string ClusterHost(int node) => $"10.93.9.1{node}";

    public static string NodeAddress(int node) => $"akka.tcp://ingest@{ClusterHost(node)}:4053";

    public LabProcess Node(int node) => _nodes[node];

    public static async Task<ClusterTopology> Create(string purpose)
    {
        var lab = NetnsLab.Create(purpose);
        try
        {
            foreach (var ns in new[] { "lan", "rcv", "rtr", "n1", "n2", "n3", "rly", "src" })
            {
                lab.AddNamespace(ns);
            }
            lab.Bridge("lan", "dlan");
            lab.Bridge("lan", "clan");
            lab.Bridge("lan", "wlan");
            lab.Link("rcv", "r0", "10.93.1.2/24", "rtr", "r1", "10.93.1.1/24");
            lab.Attach("rtr", "u0", $"{RouterDownstream}/24", "lan", "dlan", "p-rtr");
            for (int n = 1; n <= 3; n++)
            {
                string ns = NodeNamespace(n);
                lab.Attach(ns, "d0", $"10.93.2.1{n}/24", "lan", "dlan", $"p-d{n}");
                lab.Attach(ns, "c0", $"{ClusterHost(n)}/24", "lan", "clan", $"p-c{n}");
                lab.Attach(ns, "w0", $"10.93.3.1{n}/24", "lan", "wlan", $"p-w{n}");
            }
            lab.Attach("rly", "a0", $"{Relay}/24", "lan", "wlan", "p-rly");
            lab.Link("rly", "b0", "10.93.4.1/24", "src", "s0", $"{Source(0)}/24");
            for (int i = 1; i < Sources; i++)
            {
                lab.Exec("src", "ip", "addr", "add", $"{Source(i)}/24", "dev", "s0");
            }
            lab.Exec("rcv", "ip", "route", "add", "default", "via", "10.93.1.1");
            lab.Exec("src", "ip", "route", "add", "default", "via", "10.93.4.1");
            lab.Exec("src", "ip", "route", "add", "232.0.0.0/8", "dev", "s0");
            lab.Sysctl("rtr", "net.ipv4.ip_forward", "1");
            lab.Sysctl("rcv", "net.ipv4.conf.r0.force_igmp_version", "3");
            lab.Sysctl("rly", "net.ipv4.conf.b0.force_igmp_version", "3");

            var router = await FrrRouter.Start(lab, "rtr",
                zebraConf: "hostname rtr\nip nht resolve-via-default\n",
                staticdConf: $"ip route 10.93.4.0/24 {ClusterAddress}\n",
                pimdConf: "interface r1\n ip pim\n ip igmp\n!\ninterface u0\n ip pim\n!\n");
            var records = string.Join("\n", Enumerable.Range(0, Sources).Select(i => $"{2 + i} IN AMTRELAY 10 0 1 {Relay}"));
            var dns = await Bind9Server.Start(lab, "rly", Relay, 5353, new Dictionary<string, string>
            {
                ["4.93.10.in-addr.arpa"] = $"""
                    $ORIGIN 4.93.10.in-addr.arpa.
                    $TTL 60
                    @ IN SOA ns.lab.example. hostmaster.lab.example. 1 60 60 600 30
                    @ IN NS ns.lab.example.
                    {records}

                    """,
            });
            return new ClusterTopology(lab, router, dns);
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts, with the same address) node 1, 2 or 3.</summary>
    public LabProcess StartNode(int node, params string[] extraArgs)
    {
        _starts[node] = _starts.GetValueOrDefault(node) + 1;
        var process = Lab.Start(NodeNamespace(node), $"node{node}-{_starts[node]}", "dotnet",
        [
            IngestTopology.NodeProgram,
            $"--Node:DataDirectory={Path.Combine(Lab.Directory, $"node{node}")}",
            $"--Persistence:ConnectionString=Data Source={Path.Combine(Lab.Directory, "journal.db")}",
            $"--Cluster:Hostname={ClusterHost(node)}",
            $"--Cluster:SeedNodes:0={NodeAddress(1)}",
            $"--Cluster:SeedNodes:1={NodeAddress(2)}",
            $"--Cluster:SeedNodes:2={NodeAddress(3)}",
            "--Demand:Pim:Interfaces:0:Name=d0",
            $"--Demand:Pim:Interfaces:0:ClusterAddress={ClusterAddress}",
            "--Demand:Pim:Interfaces:0:HelloPeriod=5s",
            "--Demand:Joinfile=off",
            "--Egress:Interface=d0",
            $"--Dns:Servers:0={Relay}:5353",
            $"--Admin:Url={AdminUrl}",
            "--Budget:ReconcileInterval=2s",
            .. extraArgs,
        ]);
        _nodes[node] = process;
        return process;
    }

    public LabProcess StartLab(string ns, string processName, params string[] args) =>
        Lab.Start(ns, processName, "dotnet", [IngestTopology.Program("IngestCluster.Lab"), .. args]);

    public LabProcess StartSource(int i, int rate) => StartLab("src", $"source-{i}", "source", "--group", Group(i),
        "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", Source(i), "--interface", "s0",
        "--rate", rate.ToString(CultureInfo.InvariantCulture), "--size", "200", "--ttl", "16", "--status-interval", "0");

    public LabProcess StartReceiver(int i) => StartLab("rcv", $"receiver-{i}-{Interlocked.Increment(ref _receivers)}", "receiver",
        "--source", Source(i), "--group", Group(i), "--port", Port.ToString(CultureInfo.InvariantCulture), "--interface", "r0",
        "--status-interval", "500ms", "--report-gaps", "250ms");

    /// <summary>A node's /status JSON, read from inside its namespace; null when it does not answer.</summary>
    public string? NodeStatus(int node) => NodeGet(node, "/status");

    public string? NodeMetrics(int node) => NodeGet(node, "/metrics");

    private string? NodeGet(int node, string path)
    {
        try
        {
            return Lab.Exec(NodeNamespace(node), "curl", "-sf", "--max-time", "5", AdminUrl + path);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            return null;
        }
    }

    public ValueTask DisposeAsync() => Lab.DisposeAsync();
}
