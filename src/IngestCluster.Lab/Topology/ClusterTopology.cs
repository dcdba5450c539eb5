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
    // The default plan's addresses, as the failover tests use them (ClusterLabPlan.Default).
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

    private ClusterTopology(ClusterLabPlan plan, NetnsLab lab, FrrRouter router, Bind9Server dns)
    {
        Plan = plan;
        Lab = lab;
        Router = router;
        Dns = dns;
    }

    /// <summary>The addresses, namespace prefix and directory this lab was built with.</summary>
    public ClusterLabPlan Plan { get; }

    public NetnsLab Lab { get; }

    public FrrRouter Router { get; }

    public Bind9Server Dns { get; }

    public static string Source(int i) => ClusterLabPlan.Default.Source(i);

    public static string Group(int i) => ClusterLabPlan.Group(i);

    public static string NodeNamespace(int node) => ClusterLabPlan.NodeNamespace(node);

    public static string ClusterHost(int node) => ClusterLabPlan.Default.ClusterHost(node);

    public static string NodeAddress(int node) => ClusterLabPlan.Default.NodeAddress(node);

    public LabProcess Node(int node) => _nodes[node];

    public static Task<ClusterTopology> Create(string purpose) => Create(purpose, ClusterLabPlan.Default);

    /// <summary>Builds the lab on <paramref name="plan"/>'s addresses (its namespace prefix and directory, when it
    /// names them, instead of <paramref name="purpose"/> plus this process's id and a temporary directory).</summary>
    public static async Task<ClusterTopology> Create(string purpose, ClusterLabPlan plan)
    {
        string net = plan.Net;
        var lab = NetnsLab.Create(purpose, plan.NamespacePrefix, plan.Directory);
        try
        {
            foreach (var ns in new[] { "lan", "rcv", "rtr", "n1", "n2", "n3", "rly", "src" })
            {
                lab.AddNamespace(ns);
            }
            lab.Bridge("lan", "dlan");
            lab.Bridge("lan", "clan");
            lab.Bridge("lan", "wlan");
            lab.Link("rcv", "r0", $"{net}.1.2/24", "rtr", "r1", $"{net}.1.1/24");
            lab.Attach("rtr", "u0", $"{plan.RouterDownstream}/24", "lan", "dlan", "p-rtr");
            for (int n = 1; n <= 3; n++)
            {
                string ns = NodeNamespace(n);
                lab.Attach(ns, "d0", $"{net}.2.1{n}/24", "lan", "dlan", $"p-d{n}");
                lab.Attach(ns, "c0", $"{plan.ClusterHost(n)}/24", "lan", "clan", $"p-c{n}");
                lab.Attach(ns, "w0", $"{net}.3.1{n}/24", "lan", "wlan", $"p-w{n}");
            }
            lab.Attach("rly", "a0", $"{plan.Relay}/24", "lan", "wlan", "p-rly");
            lab.Link("rly", "b0", $"{net}.4.1/24", "src", "s0", $"{plan.Source(0)}/24");
            for (int i = 1; i < plan.Sources; i++)
            {
                lab.Exec("src", "ip", "addr", "add", $"{plan.Source(i)}/24", "dev", "s0");
            }
            lab.Exec("rcv", "ip", "route", "add", "default", "via", $"{net}.1.1");
            lab.Exec("src", "ip", "route", "add", "default", "via", $"{net}.4.1");
            lab.Exec("src", "ip", "route", "add", "232.0.0.0/8", "dev", "s0");
            lab.Sysctl("rtr", "net.ipv4.ip_forward", "1");
            lab.Sysctl("rcv", "net.ipv4.conf.r0.force_igmp_version", "3");
            lab.Sysctl("rly", "net.ipv4.conf.b0.force_igmp_version", "3");

            var router = await FrrRouter.Start(lab, "rtr",
                zebraConf: "hostname rtr\nip nht resolve-via-default\n",
                staticdConf: $"ip route {net}.4.0/24 {plan.ClusterAddress}\n",
                pimdConf: "interface r1\n ip pim\n ip igmp\n!\ninterface u0\n ip pim\n!\n");
            var dns = await Bind9Server.Start(lab, "rly", plan.Relay, 5353, plan.Zones());
            return new ClusterTopology(plan, lab, router, dns);
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
            $"--Cluster:Hostname={Plan.ClusterHost(node)}",
            $"--Cluster:SeedNodes:0={Plan.NodeAddress(1)}",
            $"--Cluster:SeedNodes:1={Plan.NodeAddress(2)}",
            $"--Cluster:SeedNodes:2={Plan.NodeAddress(3)}",
            "--Demand:Pim:Interfaces:0:Name=d0",
            $"--Demand:Pim:Interfaces:0:ClusterAddress={Plan.ClusterAddress}",
            "--Demand:Pim:Interfaces:0:HelloPeriod=5s",
            "--Demand:Joinfile=off",
            "--Egress:Interface=d0",
            $"--Dns:Servers:0={Plan.Relay}:5353",
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
        "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", Plan.Source(i), "--interface", "s0",
        "--rate", rate.ToString(CultureInfo.InvariantCulture), "--size", "200", "--ttl", "16", "--status-interval", "0");

    public LabProcess StartReceiver(int i) => StartReceiver(Plan.Source(i), Group(i), $"receiver-{i}");

    /// <summary>A receiver in <c>rcv</c> joining (<paramref name="source"/>, <paramref name="group"/>) on r0.</summary>
    public LabProcess StartReceiver(string source, string group, string name) =>
        StartLab("rcv", $"{name}-{Interlocked.Increment(ref _receivers)}", "receiver",
        "--source", source, "--group", group, "--port", Port.ToString(CultureInfo.InvariantCulture), "--interface", "r0",
        "--status-interval", "500ms", "--report-gaps", "250ms");

    /// <summary>A node's /status JSON, read from inside its namespace; null when it does not answer.</summary>
    public string? NodeStatus(int node) => NodeGet(node, "/status");

    public string? NodeMetrics(int node) => NodeGet(node, "/metrics");

    /// <summary>Node n's admin API at <paramref name="path"/> (e.g. "/api/flows"), or null when it does not answer.</summary>
    public string? NodeApi(int node, string path) => NodeGet(node, path);

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
