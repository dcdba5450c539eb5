using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using IngestCluster.IntegrationTests.Cluster;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Protocols;

namespace IngestCluster.LabBench;

/// <summary>
/// Cluster benchmarks. <c>cluster-scale</c>: three node processes on loopback, 1,000 sources and 10,000 (S,G) written
/// into one node's joinfile at once; the time until every source's tunnel has sent its first AMT message to a UDP sink
/// standing in for the relay (an operator override points every source at it, so no DNS is involved).
/// <c>demand-rate</c>: two in-process nodes; an origin on one sends joins, then leaves, to the budget singleton on the
/// other, and we time until the budget has decided them all (persisted to SQLite), and take the managed memory per
/// admitted (S,G).
/// </summary>
public static class ClusterBench
{
    public static async Task<int> Scale(int sources, int groupsPerSource)
    {
        string directory = Directory.CreateTempSubdirectory("ingest-scale-").FullName;
        using var sink = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sink.ReceiveBufferSize = 8 << 20;
        sink.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int sinkPort = ((IPEndPoint)sink.LocalEndPoint!).Port;
        var seen = new HashSet<int>();
        var firstTypes = new Dictionary<byte, int>();
        var lastNew = Stopwatch.StartNew();
        var receiving = Task.Run(() =>
        {
            var buffer = new byte[2048];
            var from = new SocketAddress(AddressFamily.InterNetwork);
            while (true)
            {
                int n;
                try
                {
                    n = sink.ReceiveFrom(buffer, SocketFlags.None, from);
                }
                catch (SocketException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                int port = from[2] << 8 | from[3];
                lock (seen)
                {
                    if (n > 0 && seen.Add(port))
                    {
                        firstTypes[buffer[0]] = firstTypes.GetValueOrDefault(buffer[0]) + 1;
                        lastNew.Restart();
                    }
                }
            }
        });

        int[] ports = [4061, 4062, 4063];
        var nodes = new List<LabProcess>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                string data = Path.Combine(directory, $"node{i + 1}");
                Directory.CreateDirectory(data);
                File.WriteAllText(Path.Combine(data, "joinfile.csv"), "");
                nodes.Add(LabProcess.Start($"node{i + 1}", directory, "dotnet",
                [
                    IngestTopology.NodeProgram,
                    $"--Node:DataDirectory={data}",
                    $"--Cluster:Port={ports[i]}",
                    $"--Admin:Url=http://127.0.0.1:{9121 + i}",
                    $"--Persistence:ConnectionString=Data Source={Path.Combine(directory, "journal.db")}",
                    "--Sources:Host=true",
                    .. ports.Select((p, k) => $"--Cluster:SeedNodes:{k}=akka.tcp://ingest@127.0.0.1:{p}"),
                    "--Relays:Overrides:0:Prefix=10.200.0.0/16",
                    $"--Relays:Overrides:0:Relay=127.0.0.1:{sinkPort}",
                    "--Relays:ConsultOverridesFirst=true",
                    "--Tunnels:NoDataTimeout=10m",
                    "--Tunnels:MaxUnansweredAttempts=100",
                ]));
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Until(async () =>
            {
                foreach (int i in new[] { 0, 1, 2 })
                {
                    try
                    {
                        using var status = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{9121 + i}/status"));
                        if (status.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") != 3)
                        {
                            return false;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
                    {
                        return false;
                    }
                }
                return true;
            }, TimeSpan.FromSeconds(120));
            Console.WriteLine("three members up; writing the joinfile");

            var lines = new List<string>(sources * groupsPerSource);
            for (int s = 0; s < sources; s++)
            {
                for (int g = 0; g < groupsPerSource; g++)
                {
                    lines.Add($"10.200.{s / 250}.{s % 250 + 1},232.{1 + g}.{s / 250}.{s % 250 + 1}");
                }
            }
            string joinfile = Path.Combine(directory, "node1", "joinfile.csv");
            var clock = Stopwatch.StartNew();
            File.WriteAllLines(joinfile + ".tmp", lines);
            File.Move(joinfile + ".tmp", joinfile, overwrite: true);
            await Until(() => Task.FromResult(Count() >= sources), TimeSpan.FromSeconds(120), () => $"{Count()} of {sources} tunnels");
            double seconds = clock.Elapsed.TotalSeconds;
            var hosts = new List<string>();
            Console.WriteLine($"cluster-scale: {sources} sources, {sources * groupsPerSource} (S,G) on 3 nodes: every tunnel's first message after {seconds:0.00} s " +
                $"(first messages by AMT type: {string.Join(", ", firstTypes.Select(kv => $"{kv.Key}={kv.Value}"))})");
            foreach (var (node, i) in nodes.Select((n, i) => (n, i)))
            {
                int tunnels = node.Lines().Count(l => l.Contains("tunnel.open", StringComparison.Ordinal));
                Console.WriteLine($"  node{i + 1}: {tunnels} tunnel(s) opened");
            }
            return 0;
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.Stop(TimeSpan.FromSeconds(20));
                node.Dispose();
            }
            sink.Dispose();
            await receiving;
            Directory.Delete(directory, recursive: true);
        }

        int Count()
        {
            lock (seen)
            {
                return seen.Count;
            }
        }
    }

    public static async Task<int> DemandRate(int flows)
    {
        string directory = Directory.CreateTempSubdirectory("ingest-demand-").FullName;
        int[] ports = [InProcessNode.FreePort(), InProcessNode.FreePort()];
        var extra = new Dictionary<string, string?>
        {
            ["Persistence:ConnectionString"] = $"Data Source={Path.Combine(directory, "journal.db")}",
            ["Budget:ReconcileInterval"] = "10m",
        };
        await using var a = await InProcessNode.Start(Path.Combine(directory, "a"), ports, ports[0], extra);
        await using var b = await InProcessNode.Start(Path.Combine(directory, "b"), ports, ports[1], extra);
        await InProcessNode.WaitUntil(() => a.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 2, TimeSpan.FromSeconds(60), () => "two members");
        var budget = a.Budget;
        var admitted = await budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(30));
        var origin = b.System.ActorOf(Props.Create(() => new Sender(b.Budget)));
        var all = Enumerable.Range(0, flows).Select(i => new SourceGroup(
            IPAddress.Parse($"10.201.{i / 62500}.{i / 250 % 250 + 1}"), IPAddress.Parse($"232.5.{i % 250}.{i / 250 % 250 + 1}"))).ToList();

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        foreach (var flow in all)
        {
            origin.Tell(new DemandProtocol.DemandChanged("bench/b", flow, Joined: true));
        }
        // Progress from the budget's own counters (in this process): asking the budget for its admitted set every few
        // milliseconds would load the very actor being measured.
        await InProcessNode.WaitUntil(() => Admitted() == flows, TimeSpan.FromMinutes(5), () => $"{Admitted()} of {flows} admitted");
        double joinSeconds = clock.Elapsed.TotalSeconds;
        Assert(Count() == flows, "the budget's admitted set is not every flow");
        long after = GC.GetTotalMemory(forceFullCollection: true);

        clock.Restart();
        foreach (var flow in all)
        {
            origin.Tell(new DemandProtocol.DemandChanged("bench/b", flow, Joined: false));
        }
        await InProcessNode.WaitUntil(() => Released() == flows, TimeSpan.FromMinutes(5), () => $"{Released()} of {flows} released");
        Assert(Count() == 0, "the budget still has admitted flows");
        double leaveSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"demand-rate: {flows} joins from another node, each admitted and persisted (SQLite): {flows / joinSeconds:0} events/s " +
            $"({joinSeconds:0.00} s); {flows} leaves: {flows / leaveSeconds:0} events/s ({leaveSeconds:0.00} s)");
        Console.WriteLine($"memory: {(after - before) / (double)flows:0} bytes of managed heap per admitted (S,G) (whole process, both nodes; " +
            $"{before / 1048576.0:0.0} MiB before, {after / 1048576.0:0.0} MiB after)");
        return 0;

        long Admitted() => a.Metrics.Value("ingest_budget_flows_admitted_total");
        long Released() => a.Metrics.Value("ingest_budget_flows_released_total");
        static void Assert(bool condition, string what)
        {
            if (!condition)
            {
                throw new InvalidOperationException(what);
            }
        }

        int Count() => budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(30)).Result.Flows.Length;
    }

    private static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, Func<string>? what = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"not within {timeout}: {what?.Invoke()}");
            }
            await Task.Delay(50);
        }
    }

    private sealed class Sender : ReceiveActor
    {
        public Sender(IActorRef budget) => ReceiveAny(m => budget.Tell(m));
    }
}
