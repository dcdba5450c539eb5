using System.Globalization;
using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>
/// The bandwidth budget end to end, in its own one-node lab (namespaces icbud-*): FRR, bind9 with the source's
/// AMTRELAY and <c>_dorms._tcp</c> SRV records, the lab DORMS server over HTTPS with a CA the test makes, the AMT
/// relay and three 100 packets/s sources (232.1.1.1-3 from one source address). Each flow is 2 Mbit/s by its CBACC
/// metadata; the limit, 4.5 Mbit/s, fits two. The joinfile gives the flows populations 50, 20 and none, so their
/// offloads rank them 1, 2, 3, and receivers join all three through FRR (on a kernel without multicast routing, on the
/// node's downstream LAN instead: <see cref="IngestTopology.Receivers"/>).
/// </summary>
public sealed class BudgetEndToEndTests
{
    private const int Port = 5001;
    private static readonly string[] Groups = ["232.1.1.1", "232.1.1.2", "232.1.1.3"];

    [Fact]
    public async Task Under_a_limit_that_fits_two_the_least_offload_is_blocked_raising_admits_it_and_lowering_drops_it_again()
    {
        await using var topology = await IngestTopology.Create("icbud");
        var lab = topology.Lab;
        string ca = Path.Combine(lab.Directory, "dorms-ca.pem");
        var relay = topology.StartLab("rly", "relay", "relay", "--listen", IngestTopology.Relay, "--upstream-interface", "b0",
            "--qqic", "20", "--qrv", "2", "--status-interval", "1s");
        await relay.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        foreach (var group in Groups)
        {
            topology.StartLab("src", $"source-{group}", "source", "--group", group, "--port", Port.ToString(CultureInfo.InvariantCulture),
                "--interface", "s0", "--rate", "100", "--size", "1316", "--ttl", "16");
        }
        var dorms = topology.StartLab("ing", "dorms", "dorms",
            "--listen", $"127.0.0.1:{IngestTopology.DormsPort}", "--name", IngestTopology.DormsName, "--write-ca", ca,
            "--flows", string.Join(';', Groups.Select(g => $"{IngestTopology.Source},{g},2000")));
        await dorms.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        // The three lines in one write: one read, one cohort, ranked together.
        string joinfile = Path.Combine(lab.Directory, "demand.csv");
        File.WriteAllText(joinfile, $"{IngestTopology.Source},{Groups[0]},50\n{IngestTopology.Source},{Groups[1]},20\n{IngestTopology.Source},{Groups[2]}\n");
        var node = topology.StartNode(Path.Combine(lab.Directory, "node-data"),
            $"--Demand:Joinfile={joinfile}",
            "--Budget:Limit=4.5Mbps",
            "--Budget:BlockedHoldDown=8s",
            $"--Budget:Metadata:CaBundle={ca}");

        var first = await WaitForBudget(topology, b => Admitted(b).Count == 2 && Blocked(b).Count == 1, TimeSpan.FromSeconds(60), "two admitted, one blocked");
        Assert.Equal([Groups[0], Groups[1]], Admitted(first));
        var blocked = first.GetProperty("blocked")[0];
        Assert.Equal(Groups[2], blocked.GetProperty("group").GetString());
        Assert.Equal("OverLimit", blocked.GetProperty("reason").GetString());
        Assert.Equal("needs 2Mbps but only 500kbps of the limit is left", blocked.GetProperty("detail").GetString());
        Assert.Equal(4_000_000, first.GetProperty("usedBitsPerSecond").GetInt64());
        // The status page carries the same reason.
        using (var status = JsonDocument.Parse(topology.NodeStatus()))
        {
            var reason = status.RootElement.GetProperty("budget").GetProperty("blocked")[0];
            Assert.Equal(("OverLimit", Groups[2]), (reason.GetProperty("reason").GetString(), reason.GetProperty("group").GetString()));
        }

        // Behind FRR where the kernel routes multicast; else on the node's downstream LAN (the demand is the joinfile's).
        var (ns, iface) = IngestTopology.Receivers;
        var receivers = Groups.Select((g, i) => topology.StartLab(ns, $"receiver-{i + 1}", "receiver", "--source", IngestTopology.Source,
            "--group", g, "--port", Port.ToString(CultureInfo.InvariantCulture), "--interface", iface, "--status-interval", "500ms")).ToArray();
        await WaitUntil(() => ReceiverStatus.Receiving(receivers[0]) && ReceiverStatus.Receiving(receivers[1]), TimeSpan.FromSeconds(30), "the two admitted flows at their receivers");
        // The blocked one gets nothing: neither at its receiver nor on the node's egress.
        await WaitUntil(() => ReceiverStatus.Lines(receivers[2]).Count >= 6, TimeSpan.FromSeconds(10), "the third receiver's status");
        Assert.Equal(0, ReceiverStatus.Last(receivers[2])!.Value.GetProperty("received").GetInt64());
        Assert.Equal(0, FlowPackets(topology, Groups[2]));

        // Raising the limit admits it once its hold-down (8 s) is over.
        var raised = Post(topology, "/budget/limit", "7Mbps");
        Assert.Contains("\"limitFrom\": \"admin\"", raised, StringComparison.Ordinal);
        var raisedAt = DateTime.UtcNow;
        await WaitForBudget(topology, b => Admitted(b).Count == 3, TimeSpan.FromSeconds(30), "the third flow admitted after the raise");
        Assert.True(DateTime.UtcNow - raisedAt < TimeSpan.FromSeconds(20), $"admitted {(DateTime.UtcNow - raisedAt).TotalSeconds:0.0} s after the raise");
        await WaitUntil(() => ReceiverStatus.Receiving(receivers[2]), TimeSpan.FromSeconds(30), "the third flow at its receiver");

        // Lowering it drops the lowest-ranked flow (the third: the least offload), and its receiver goes quiet.
        Post(topology, "/budget/limit", "4.5Mbps");
        var lowered = await WaitForBudget(topology, b => Admitted(b).Count == 2, TimeSpan.FromSeconds(30), "a flow dropped after the lowering");
        Assert.Equal([Groups[0], Groups[1]], Admitted(lowered));
        var dropped = Blocked(lowered).Single();
        Assert.Equal((Groups[2], "Dropped"), (dropped.Group, dropped.Reason));
        await WaitUntil(() => ReceiverStatus.Quiet(receivers[2], lines: 6), TimeSpan.FromSeconds(30), "the dropped flow's receiver to go quiet");
        Assert.True(ReceiverStatus.Receiving(receivers[0]) && ReceiverStatus.Receiving(receivers[1]), "the two kept flows still flow");
        Assert.False(node.HasExited);
    }

    private static List<string> Admitted(JsonElement budget) =>
        [.. budget.GetProperty("admitted").EnumerateArray().Select(a => a.GetProperty("group").GetString()!).Order(StringComparer.Ordinal)];

    private static List<(string Group, string Reason)> Blocked(JsonElement budget) =>
        [.. budget.GetProperty("blocked").EnumerateArray().Select(b => (b.GetProperty("group").GetString()!, b.GetProperty("reason").GetString()!))];

    private static async Task<JsonElement> WaitForBudget(IngestTopology topology, Func<JsonElement, bool> condition, TimeSpan timeout, string what)
    {
        JsonElement last = default;
        string text = "";
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                text = topology.Lab.Exec("ing", "curl", "-sf", "--max-time", "5", $"{IngestTopology.AdminUrl}/budget");
                using var document = JsonDocument.Parse(text);
                last = document.RootElement.Clone();
                if (condition(last))
                {
                    return last;
                }
            }
            catch (InvalidOperationException)
            {
                // Not up yet, or the singleton is starting: asked again.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{what}: not within {timeout}; last /budget: {text}");
    }

    private static string Post(IngestTopology topology, string path, string body) =>
        topology.Lab.Exec("ing", "curl", "-sf", "--max-time", "10", "-X", "POST", "--data", body, $"{IngestTopology.AdminUrl}{path}");

    private static long FlowPackets(IngestTopology topology, string group)
    {
        string prefix = $"ingest_flow_packets_total{{source=\"{IngestTopology.Source}\",group=\"{group}\"}} ";
        var line = topology.NodeMetrics().Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {timeout}");
            }
            await Task.Delay(100);
        }
    }
}
