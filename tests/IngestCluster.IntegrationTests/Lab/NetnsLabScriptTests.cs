using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace IngestCluster.IntegrationTests.Lab;

/// <summary>
/// <c>deploy/lab/netns-lab.sh</c> end to end, as an operator runs it: up, join, packets at the receiver, kill the node
/// that carries the flow, packets again (from another node), leave, down, and no <c>icnl-</c> namespace left. The
/// script runs the programs built next to this test; <c>down</c> runs in a finally, whatever failed before it.
/// </summary>
public sealed partial class NetnsLabScriptTests(ITestOutputHelper output)
{
    private const string Source = "10.170.4.2";
    private const string Group = "232.1.1.1";
    private const string Prefix = "icnl-";

    private readonly string _dir = Directory.CreateTempSubdirectory("ingest-netns-lab-test-").FullName;

    [SkippableFact]
    public async Task Up_join_kill_the_carrying_node_packets_come_back_then_down_leaves_no_namespace()
    {
        RequiresKernel.MulticastRouting();
        Assert.Empty(LabNamespaces()); // another lab of this prefix would be torn down by our `down`
        (int Exit, string Text) down;
        try
        {
            var watch = Stopwatch.StartNew();
            var up = Script("up", "--sources", "2");
            Assert.True(up.Exit == 0, $"up failed:\n{up.Text}");
            output.WriteLine($"up: {watch.Elapsed.TotalSeconds:F1} s\n{up.Text}");
            Assert.Equal(8, LabNamespaces().Count); // lan, rcv, rtr, n1, n2, n3, rly, src

            var status = Script("status");
            Assert.Equal(0, status.Exit);
            Assert.Equal(3, Regex.Matches(status.Text, @"^node \d .* running$", RegexOptions.Multiline).Count);
            Assert.Equal(3, Regex.Matches(status.Text, @"akka\.tcp://ingest@10\.170\.9\.1\d:4053  Up").Count);
            Assert.Contains("none (netns-lab.sh join S G)", status.Text, StringComparison.Ordinal);

            var join = Script("join", Source, Group);
            Assert.True(join.Exit == 0, join.Text);
            watch.Restart();
            var receiving = await Poll(s => Receiver(s) is { Receiving: true }, TimeSpan.FromSeconds(60), "the receiver getting packets");
            output.WriteLine($"join to 'receiving' in status: {watch.Elapsed.TotalSeconds:F1} s\n{receiving}");
            int host = Host(receiving) ?? throw new InvalidOperationException($"no node carries {Source}:\n{receiving}");

            long before = Receiver(Script("status").Text)!.Value.Received;
            var kill = Script("kill-node", host.ToString(CultureInfo.InvariantCulture));
            Assert.True(kill.Exit == 0, kill.Text);
            watch.Restart();
            output.WriteLine(kill.Text);
            // Recorded PID, checked against its namespace: a second kill of the same node is refused.
            Assert.NotEqual(0, Script("kill-node", host.ToString(CultureInfo.InvariantCulture)).Exit);

            var back = await Poll(s => Regex.IsMatch(s, $@"^node {host} .* exited \(137\)$", RegexOptions.Multiline)
                    && Host(s) is { } h && h != host
                    && Receiver(s) is { Receiving: true } r && r.Received >= before + 200,
                TimeSpan.FromSeconds(120), $"packets again, from a node other than {host}");
            output.WriteLine($"kill-node {host} to packets from node {Host(back)}: {watch.Elapsed.TotalSeconds:F1} s\n{back}");
            var gaps = File.ReadLines(Directory.GetFiles(Path.Combine(_dir, "logs"), $"receiver-{Source}-{Group}-*.log").Single())
                .Where(l => l.Contains("\"gap\"", StringComparison.Ordinal)).Select(l => GapMs().Match(l).Groups[1].Value).ToList();
            output.WriteLine($"receiver gaps (ms): {string.Join(", ", gaps)}");

            var leave = Script("leave", Source, Group);
            Assert.True(leave.Exit == 0, leave.Text);
            Assert.StartsWith($"left ({Source},{Group})", leave.Text, StringComparison.Ordinal);
            Assert.Contains("none (netns-lab.sh join S G)", Script("status").Text, StringComparison.Ordinal);

            var log = Script("logs", "2");
            Assert.Equal(0, log.Exit);
            Assert.NotEmpty(log.Text.Trim());
        }
        finally
        {
            var watch = Stopwatch.StartNew();
            down = Script("down");
            output.WriteLine($"down: {watch.Elapsed.TotalSeconds:F1} s: {down.Text}");
        }
        Assert.True(down.Exit == 0, down.Text);
        Assert.Empty(LabNamespaces());
        Assert.NotEqual(0, Script("status").Exit);
        // Idempotent: a second down finds nothing and succeeds.
        Assert.Equal(0, Script("down").Exit);
    }

    [Fact]
    public void Down_after_up_was_killed_removes_its_processes_and_namespaces()
    {
        Assert.Empty(LabNamespaces());
        (int Exit, string Text) down;
        int upPid;
        try
        {
            var up = Script("up", "--sources", "1");
            Assert.True(up.Exit == 0, $"up failed:\n{up.Text}");
            upPid = int.Parse(File.ReadAllText(Path.Combine(_dir, "up.pid")).Trim(), CultureInfo.InvariantCulture);
            // A crash of up: no clean-up of its own, its children keep running in the namespaces.
            using (var process = Process.GetProcessById(upPid))
            {
                process.Kill();
                Assert.True(process.WaitForExit(10_000));
            }
            Assert.Equal(8, LabNamespaces().Count);
            Assert.Contains(LabNamespaces(), ns => IngestCluster.Lab.Topology.NetnsLab.Run("ip", "netns", "pids", ns).Trim().Length > 0);
            Assert.NotEqual(0, Script("status").Exit);
        }
        finally
        {
            down = Script("down");
            output.WriteLine(down.Text);
        }
        Assert.True(down.Exit == 0, down.Text);
        // 3 nodes, zebra, staticd, pimd, named, relay, dorms, 1 source.
        var stray = Regex.Match(down.Text, @"stray processes killed: (\d+)");
        Assert.True(stray.Success && int.Parse(stray.Groups[1].Value, CultureInfo.InvariantCulture) >= 10, down.Text);
        Assert.Empty(LabNamespaces());
    }

    private record struct ReceiverLine(bool Receiving, long Received);

    /// <summary>The receiver's line of <c>status</c>: "(S,G)  pid P  receiving|NOT receiving  received N ...".</summary>
    private static ReceiverLine? Receiver(string status)
    {
        var m = Regex.Match(status, $@"\({Regex.Escape(Source)},{Regex.Escape(Group)}\)\s+pid \d+\s+(receiving|NOT receiving|exited)\s+received (\d+)");
        return m.Success ? new ReceiverLine(m.Groups[1].Value == "receiving", long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) : null;
    }

    /// <summary>The node (1-3) the status says is tunnelling for the source.</summary>
    private static int? Host(string status)
    {
        var m = Regex.Match(status, $@"^\s+{Regex.Escape(Source)}\s+Tunnelling\s+on akka\.tcp://ingest@10\.170\.9\.1(\d):4053", RegexOptions.Multiline);
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    private async Task<string> Poll(Func<string, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var status = Script("status");
            last = status.Text;
            if (status.Exit == 0 && condition(last))
            {
                return last;
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"{what}: not within {timeout}; last status:\n{last}");
    }

    private static List<string> LabNamespaces() =>
        [.. IngestCluster.Lab.Topology.NetnsLab.Run("ip", "netns", "list").Split('\n')
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))];

    private (int Exit, string Text) Script(params string[] args)
    {
        var info = new ProcessStartInfo(ScriptPath())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["NETNS_LAB_DIR"] = _dir;
        info.Environment["NETNS_LAB_PREFIX"] = Prefix;
        info.Environment["INGEST_LAB_DLL"] = Path.Combine(AppContext.BaseDirectory, "IngestCluster.Lab.dll");
        info.Environment["INGEST_NODE_DLL"] = Path.Combine(AppContext.BaseDirectory, "IngestCluster.Node.dll");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(300_000))
        {
            process.Kill();
            throw new TimeoutException($"netns-lab.sh {string.Join(' ', args)} did not finish within 300 s");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string ScriptPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "deploy", "lab", "netns-lab.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("deploy/lab/netns-lab.sh above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("\"gapMs\":([0-9.]+)")]
    private static partial Regex GapMs();
}
