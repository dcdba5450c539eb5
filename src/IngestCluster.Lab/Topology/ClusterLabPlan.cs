using System.Globalization;

namespace IngestCluster.Lab.Topology;

/// <summary>
/// Where <see cref="ClusterTopology"/> puts things: the first two octets of every address (<see cref="Net"/>, so
/// <c>10.93</c> gives 10.93.1.0/24 ... 10.93.9.0/24), how many sources, the namespace prefix and the directory.
/// <see cref="Default"/> is the failover tests' lab; <c>deploy/lab/netns-lab.sh</c> uses <c>10.170</c> and <c>icnl-</c>.
/// With <see cref="DormsKbps"/> set, bind9 also serves a <c>_dorms._tcp</c> SRV record for every source, naming
/// dorms.lab.example:<see cref="DormsPort"/> at the relay's address, where the lab DORMS server is meant to run.
/// </summary>
public sealed record ClusterLabPlan(string Net = "10.93", int Sources = ClusterTopology.Sources, string? NamespacePrefix = null,
    string? Directory = null, int? DormsKbps = null)
{
    public const string DormsName = "dorms.lab.example";
    public const int DormsPort = 8443;

    public static ClusterLabPlan Default { get; } = new();

    public string ClusterAddress => $"{Net}.2.10";

    public string RouterDownstream => $"{Net}.2.1";

    public string RouterUpstream => $"{Net}.1.1";

    public string Receiver => $"{Net}.1.2";

    public string Relay => $"{Net}.3.1";

    public string Source(int i) => $"{Net}.4.{2 + i}";

    public static string Group(int i) => $"232.1.1.{1 + i}";

    public static string NodeNamespace(int node) => $"n{node}";

    public string NodeDownstream(int node) => $"{Net}.2.1{node}";

    public string ClusterHost(int node) => $"{Net}.9.1{node}";

    public string NodeAddress(int node) => $"akka.tcp://ingest@{ClusterHost(node)}:4053";

    /// <summary>The reverse zone of the sources' /24 (e.g. 4.93.10.in-addr.arpa).</summary>
    public string SourceZone
    {
        get
        {
            var octets = Net.Split('.');
            return $"4.{octets[1]}.{octets[0]}.in-addr.arpa";
        }
    }

    /// <summary>bind9's zones: an AMTRELAY record per source pointing at the relay, and the DORMS records when asked.</summary>
    public Dictionary<string, string> Zones()
    {
        static string Zone(string origin, string records) => Bind9Server.ZoneFile(origin, records);
        var records = Enumerable.Range(0, Sources).Select(i => $"{2 + i} IN AMTRELAY 10 0 1 {Relay}").ToList();
        var zones = new Dictionary<string, string>();
        if (DormsKbps is not null)
        {
            records.AddRange(Enumerable.Range(0, Sources).Select(i =>
                string.Create(CultureInfo.InvariantCulture, $"_dorms._tcp.{2 + i} IN SRV 0 0 {DormsPort} {DormsName}.")));
            zones["lab.example"] = Zone("lab.example", $"ns IN A {Relay}\ndorms IN A {Relay}");
        }
        zones[SourceZone] = Zone(SourceZone, string.Join("\n", records));
        return zones;
    }
}
