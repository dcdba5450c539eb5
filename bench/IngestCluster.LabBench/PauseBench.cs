using System.Diagnostics;
using System.Globalization;
using System.Net;
using IngestCluster.IntegrationTests.Cluster;
using IngestCluster.Lab.Topology;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Joinfiles;

namespace IngestCluster.LabBench;

/// <summary>
/// <c>false-downings</c>: the cost of the short failure detector and split-brain resolver in cluster-config/cluster.conf.
/// Three node processes on loopback (a shared SQLite journal, six demanded flows each) run through phases of CPU
/// starvation: first idle, then with busy-looping processes on every core at the nodes' own priority, then with
/// those processes at a higher priority (nice -10) than the nodes, which is harsher than a loaded host normally is.
/// In each phase we count what the nodes logged: members marked unreachable (false alarms that healed) and
/// split-brain decisions (a healthy node downed), and whether any node exited. No node is ever killed here, so
/// every one of those is false.
/// </summary>
public static class PauseBench
{
    public static async Task<int> Run(TimeSpan phase)
    {
        string directory = Directory.CreateTempSubdirectory("ingest-pauses-").FullName;
        int[] clusterPorts = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        int[] adminPorts = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        var flows = Enumerable.Range(0, 6).Select(i => new JoinfileEntry(IPAddress.Parse($"198.51.100.{80 + i}"), IPAddress.Parse($"232.9.1.{i}"))).ToList();
        var nodes = new List<LabProcess>();
        int restarts = 0;
        var hogs = new List<Process>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            for (int n = 0; n < 3; n++)
            {
                Joinfile.WriteAtomically(Path.Combine(directory, $"demand{n}.csv"), flows);
                nodes.Add(StartNode(n));
            }
            var formed = Stopwatch.StartNew();
            while (!await AllUp())
            {
                if (formed.Elapsed > TimeSpan.FromSeconds(120))
                {
                    throw new InvalidOperationException("the three nodes did not form a cluster in 120 s; node 0's log ends:\n" + nodes[0].Tail(15));
                }
                await Task.Delay(500);
            }
            Console.WriteLine($"false-downings: three nodes up after {formed.Elapsed.TotalSeconds:0.0} s; {Environment.ProcessorCount} cores; " +
                $"phases of {phase.TotalSeconds:0} s");
            Console.WriteLine("| phase | unreachable marks | healed (reachable again) | split-brain decisions | node exits |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            await Phase("no busy loops (the machine as it is)", 0, 0);
            await Phase($"{2 * Environment.ProcessorCount} busy loops at the nodes' priority", 2 * Environment.ProcessorCount, 0);
            await Phase($"{2 * Environment.ProcessorCount} busy loops at nice -10 (above the nodes)", 2 * Environment.ProcessorCount, -10);
            bool exitedUnderLoad = nodes.Any(n => n.HasExited);

            // Stalls: the whole process of the youngest node frozen (SIGSTOP, then SIGCONT), as a long GC, a VM
            // pause or swapping would. Which stall lengths heal, and which get a healthy node downed.
            Console.WriteLine();
            Console.WriteLine("| stall of node 3 (SIGSTOP … SIGCONT) | marked unreachable | downed (and exited) |");
            Console.WriteLine("|---|---|---|");
            foreach (double seconds in new[] { 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0 })
            {
                int[] before = [.. nodes.Select(n => n.Lines().Count)];
                var stalled = nodes[2];
                stalled.Signal(19);
                await Task.Delay(TimeSpan.FromSeconds(seconds));
                stalled.Signal(18);
                await Task.Delay(TimeSpan.FromSeconds(8));
                var lines = nodes.Take(2).SelectMany((n, i) => n.Lines().Skip(before[i])).ToList();
                bool unreachable = lines.Any(l => l.Contains("Marking node(s) as UNREACHABLE", StringComparison.Ordinal));
                bool downed = lines.Any(l => l.Contains("SBR took decision", StringComparison.Ordinal)) || stalled.HasExited;
                Console.WriteLine($"| {seconds:0.0} s | {(unreachable ? "yes" : "no")} | {(downed ? "yes" : "no")}{(stalled.HasExited ? " (exited)" : "")} |");
                if (downed)
                {
                    await WaitForExit(stalled);
                    stalled.Dispose();
                    nodes[2] = StartNode(2, ++restarts);
                    var rejoin = Stopwatch.StartNew();
                    while (!await AllUp())
                    {
                        if (rejoin.Elapsed > TimeSpan.FromSeconds(120))
                        {
                            throw new InvalidOperationException("node 3 did not rejoin in 120 s");
                        }
                        await Task.Delay(500);
                    }
                }
            }
            return exitedUnderLoad ? 1 : 0;
        }
        finally
        {
            StopHogs();
            foreach (var node in nodes)
            {
                node.Dispose();
            }
            Directory.Delete(directory, recursive: true);
        }

        async Task Phase(string name, int hogCount, int nice)
        {
            int[] before = [.. nodes.Select(n => n.Lines().Count)];
            for (int i = 0; i < hogCount; i++)
            {
                var info = new ProcessStartInfo("nice", ["-n", nice.ToString(CultureInfo.InvariantCulture), "sh", "-c", "while :; do :; done"])
                {
                    UseShellExecute = false,
                };
                hogs.Add(Process.Start(info) ?? throw new InvalidOperationException("could not start a busy loop"));
            }
            await Task.Delay(phase);
            StopHogs();
            // Let the last heartbeats and gossip land before counting.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var lines = nodes.SelectMany((n, i) => n.Lines().Skip(before[i])).ToList();
            int unreachable = lines.Count(l => l.Contains("Marking node(s) as UNREACHABLE", StringComparison.Ordinal));
            int healed = lines.Count(l => l.Contains("Marking node(s) as REACHABLE", StringComparison.Ordinal));
            int decisions = lines.Count(l => l.Contains("SBR took decision", StringComparison.Ordinal));
            int exits = nodes.Count(n => n.HasExited);
            Console.WriteLine($"| {name} | {unreachable} | {healed} | {decisions} | {exits} |");
        }

        static async Task WaitForExit(LabProcess process)
        {
            var waited = Stopwatch.StartNew();
            while (!process.HasExited && waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(200);
            }
            if (!process.HasExited)
            {
                process.Signal(9);
            }
        }

        void StopHogs()
        {
            foreach (var hog in hogs)
            {
                if (!hog.HasExited)
                {
                    hog.Kill(entireProcessTree: true);
                }
                hog.WaitForExit();
                hog.Dispose();
            }
            hogs.Clear();
        }

        async Task<bool> AllUp()
        {
            for (int n = 0; n < 3; n++)
            {
                try
                {
                    string status = await http.GetStringAsync($"http://127.0.0.1:{adminPorts[n].ToString(CultureInfo.InvariantCulture)}/status");
                    using var document = System.Text.Json.JsonDocument.Parse(status);
                    int up = document.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
                    if (up < 3)
                    {
                        return false;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
                {
                    return false;
                }
            }
            return true;
        }

        LabProcess StartNode(int n, int run = 0)
        {
            string P(int port) => port.ToString(CultureInfo.InvariantCulture);
            return LabProcess.Start($"node{n}-{run}", directory, "dotnet",
            [
                IngestTopology.Program("IngestCluster.Node"),
                $"--Node:DataDirectory={Path.Combine(directory, $"node{n}")}",
                $"--Cluster:Port={P(clusterPorts[n])}",
                .. Enumerable.Range(0, 3).Select(i => $"--Cluster:SeedNodes:{i}=akka.tcp://ingest@127.0.0.1:{P(clusterPorts[i])}"),
                $"--Admin:Url=http://127.0.0.1:{P(adminPorts[n])}",
                $"--Persistence:ConnectionString=Data Source={Path.Combine(directory, "journal.db")}",
                "--Sources:Host=true",
                $"--Demand:Joinfile={Path.Combine(directory, $"demand{n}.csv")}",
                "--Demand:SnapshotInterval=1s",
                "--Budget:ReconcileInterval=1s",
                // No DRIAD: the sources resolve nothing, quickly; the cluster's own traffic is what is measured.
                "--Dns:Servers:0=127.0.0.1:9",
                "--Dns:Timeout=200ms",
            ]);
        }
    }
}
