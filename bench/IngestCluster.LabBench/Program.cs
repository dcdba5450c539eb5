using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using IngestCluster.Lab.Topology;

// Join to first packet, measured as a receiver sees it: the receiver's IGMPv3 join, FRR's PIM Join to the node,
// admission, DRIAD through bind9, the AMT tunnel to our relay, native egress, FRR forwarding, first datagram.
// Every join is cold: the previous flow is released (its Prune, then BLOCK and the tunnel gone) before the next.
// Usage: dotnet run -c Release --project bench/IngestCluster.LabBench -- [joins=20] [--dorms [--no-prepare] [--distance=20ms]] [--node=DIR|DLL]
//        (--node: the node program to start, e.g. a ReadyToRun publish: its folder or its IngestCluster.Node.dll;
//        the same as INGEST_LAB_NODE; default the node built next to the bench)
//        dotnet run -c Release --project bench/IngestCluster.LabBench -- dataplane [rounds=5]
//        dotnet run -c Release --project bench/IngestCluster.LabBench -- dataplane-tunnels [rate=150000] [rounds=3]
//        dotnet run -c Release --project bench/IngestCluster.LabBench -- cluster-scale [sources=1000] [groups-per-source=10]
//        dotnet run -c Release --project bench/IngestCluster.LabBench -- demand-rate [flows=10000]
//        dotnet run -c Release --project bench/IngestCluster.LabBench -- false-downings [seconds-per-phase=180]
//        dotnet run -c Release --project bench/IngestCluster.LabBench -- budget [flows=10000] [rounds=5]
if (args.Length > 0 && args[0] == "cluster-scale")
{
    return await IngestCluster.LabBench.ClusterBench.Scale(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10);
}
if (args.Length > 0 && args[0] == "demand-rate")
{
    return await IngestCluster.LabBench.ClusterBench.DemandRate(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10000);
}
if (args.Length > 0 && args[0] == "false-downings")
{
    return await IngestCluster.LabBench.PauseBench.Run(TimeSpan.FromSeconds(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 180));
}
if (args.Length > 0 && args[0] == "budget")
{
    return await IngestCluster.LabBench.BudgetBench.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5);
}
if (args.Length > 0 && args[0] == "dataplane-tunnels")
{
    if (!OperatingSystem.IsLinux())
    {
        Console.Error.WriteLine("the data-plane benchmark needs Linux network namespaces");
        return 2;
    }
    return await IngestCluster.LabBench.DataPlane.Tunnels(args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 150_000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3);
}
if (args.Length > 0 && args[0] == "dataplane")
{
    if (!OperatingSystem.IsLinux())
    {
        Console.Error.WriteLine("the data-plane benchmark needs Linux network namespaces");
        return 2;
    }
    return await IngestCluster.LabBench.DataPlane.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5);
}
// --dorms: a budget limit is set, so every join first fetches the flow's CBACC metadata from the lab DORMS server
// (SRV lookup, host-meta, the CBACC resource over HTTPS); the metadata is kept for 1 s (joins come several seconds apart), so every fetch is cold.
// --no-prepare: the source is not prepared while the metadata is fetched (Sources:PrepareFor=0s), so DRIAD and the AMT
// handshake start only once the flow is admitted: the same-run baseline for what preparing saves.
bool withDorms = args.Contains("--dorms");
bool noPrepare = args.Contains("--no-prepare");
// --distance=D: the relay and the DORMS server answer each request D late, as servers a round trip of D away would
// (this kernel has no netem): the AMT handshake then takes two D, the metadata fetch two D (host-meta, CBACC).
var distance = args.FirstOrDefault(a => a.StartsWith("--distance=", StringComparison.Ordinal)) is { } d ? d["--distance=".Length..] : null;
if (args.FirstOrDefault(a => a.StartsWith("--node=", StringComparison.Ordinal)) is { } nodeOption)
{
    string path = Path.GetFullPath(nodeOption["--node=".Length..]);
    Environment.SetEnvironmentVariable("INGEST_LAB_NODE", Directory.Exists(path) ? Path.Combine(path, "IngestCluster.Node.dll") : path);
}
Console.WriteLine($"node program: {IngestCluster.Lab.Topology.IngestTopology.NodeProgram}");
int joins = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) is { } count ? int.Parse(count, CultureInfo.InvariantCulture) : 20;
const string group = "232.1.1.1";

await using var topology = await IngestTopology.Create("icbench");
var relay = topology.StartLab("rly", "relay", ["relay", "--listen", IngestTopology.Relay, "--upstream-interface", "b0",
    .. (distance is null ? Array.Empty<string>() : ["--reply-delay", distance])]);
await relay.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
topology.StartLab("src", "source", "source", "--group", group, "--port", "5001", "--interface", "s0", "--rate", "1000", "--size", "1316", "--ttl", "16");
var nodeArgs = new List<string>();
if (withDorms)
{
    string ca = Path.Combine(topology.Lab.Directory, "dorms-ca.pem");
    var dorms = topology.StartLab("ing", "dorms", ["dorms", "--listen", $"127.0.0.1:{IngestTopology.DormsPort}", "--name", IngestTopology.DormsName,
        "--write-ca", ca, "--flows", $"{IngestTopology.Source},{group},2000", .. (distance is null ? Array.Empty<string>() : ["--reply-delay", distance])]);
    await dorms.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
    nodeArgs.AddRange(["--Budget:Limit=1Gbps", $"--Budget:Metadata:CaBundle={ca}", "--Budget:Metadata:MinTtl=0s", "--Budget:Metadata:MaxTtl=1s"]);
}
if (noPrepare)
{
    nodeArgs.Add("--Sources:PrepareFor=0s");
}
var node = topology.StartNode(Path.Combine(topology.Lab.Directory, "node-data"), [.. nodeArgs]);
await Until(() => Admitted() is not null, TimeSpan.FromSeconds(60));

var samples = new List<double>();
int fromCbacc = 0;
for (int i = 1; i <= joins; i++)
{
    await Until(() => Admitted() == false, TimeSpan.FromSeconds(60));
    var receiver = topology.StartLab("rcv", $"receiver-{i}", "receiver", "--source", IngestTopology.Source, "--group", group,
        "--port", "5001", "--interface", "r0", "--duration", "3s");
    var summary = await receiver.WaitForLine(l => l.Contains("\"event\":\"summary\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
    using var json = JsonDocument.Parse(summary);
    var first = json.RootElement.GetProperty("firstPacketMs");
    double ms = first.ValueKind == JsonValueKind.Number ? first.GetDouble() : double.NaN;
    samples.Add(ms);
    string from = BitrateFrom() ?? "?";
    if (from == "cbacc")
    {
        fromCbacc++;
    }
    Console.WriteLine($"join {i,2}: first packet after {ms,8:0.0} ms (bitrate from {from})");
}

var sorted = samples.Where(s => !double.IsNaN(s)).Order().ToList();
double Percentile(double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
Console.WriteLine();
Console.WriteLine($"joins: {samples.Count}, with a first packet: {sorted.Count}; admitted with CBACC metadata: {fromCbacc}");
if (sorted.Count > 0)
{
    Console.WriteLine($"median {Percentile(0.5):0.0} ms, p90 {Percentile(0.9):0.0} ms, min {sorted[0]:0.0} ms, max {sorted[^1]:0.0} ms");
}
_ = node;
return sorted.Count == samples.Count ? 0 : 1;

bool? Admitted()
{
    try
    {
        using var status = JsonDocument.Parse(topology.NodeStatus());
        return status.RootElement.GetProperty("budget").GetProperty("admitted").EnumerateArray()
            .Any(f => f.GetProperty("source").GetString() == IngestTopology.Source);
    }
    catch (Exception e) when (e is InvalidOperationException or JsonException or KeyNotFoundException)
    {
        return null;
    }
}

string? BitrateFrom()
{
    try
    {
        using var status = JsonDocument.Parse(topology.NodeStatus());
        foreach (var f in status.RootElement.GetProperty("budget").GetProperty("admitted").EnumerateArray())
        {
            if (f.GetProperty("source").GetString() == IngestTopology.Source)
            {
                return f.TryGetProperty("bitrateFrom", out var from) ? from.GetString() : null;
            }
        }
        return null;
    }
    catch (Exception e) when (e is InvalidOperationException or JsonException or KeyNotFoundException)
    {
        return null;
    }
}

static async Task Until(Func<bool> condition, TimeSpan timeout)
{
    var clock = Stopwatch.StartNew();
    while (!condition())
    {
        if (clock.Elapsed > timeout)
        {
            throw new TimeoutException($"not within {timeout}");
        }
        await Task.Delay(100);
    }
}
