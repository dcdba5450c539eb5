using System.Globalization;
using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>
/// DORMS misbehaving, through the whole budget path of a real node: bind9's <c>_dorms._tcp</c> SRV record, the lab
/// DORMS server over HTTPS, the metadata actor and the budget singleton. One flow is served well; the others get a
/// garbage body, an HTTP 500, a redirect loop, no answer (slow) and an endless body. Without a default bitrate each bad
/// flow is blocked as NoMetadata with the failure named in its detail while the good one is admitted from CBACC; with a
/// default bitrate and a server certificate the node does not trust, every flow is admitted at the default, saying so.
/// </summary>
public sealed class DormsMisbehaviourTests
{
    private static readonly (string Group, string Behaviour, string Expect)[] Flows =
    [
        ("232.1.1.1", "", ""),
        ("232.1.1.2", "garbage", "BadBody"),
        ("232.1.1.3", "500", "HTTP 500"),
        ("232.1.1.4", "redirect-loop", "RedirectLoop"),
        ("232.1.1.5", "slow", "Timeout"),
        ("232.1.1.6", "endless", "TooLarge"),
    ];

    [Fact]
    public async Task Each_bad_answer_blocks_only_its_flow_with_the_reason_and_a_default_bitrate_admits_them_all()
    {
        await using var topology = await IngestTopology.Create("icdmb");
        var lab = topology.Lab;
        string ca = Path.Combine(lab.Directory, "dorms-ca.pem");
        var dorms = topology.StartLab("ing", "dorms", "dorms",
            "--listen", $"127.0.0.1:{IngestTopology.DormsPort}", "--name", IngestTopology.DormsName, "--write-ca", ca,
            "--flows", string.Join(';', Flows.Select(f => $"{IngestTopology.Source},{f.Group},2000" + (f.Behaviour.Length > 0 ? $",{f.Behaviour}" : ""))));
        await dorms.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        string joinfile = Path.Combine(lab.Directory, "demand.csv");
        File.WriteAllText(joinfile, string.Concat(Flows.Select(f => $"{IngestTopology.Source},{f.Group}\n")));

        // 1. No default bitrate, the lab CA trusted: only the good flow has a size, so only it is admitted.
        var node = topology.StartNode(Path.Combine(lab.Directory, "node-a"),
            $"--Demand:Joinfile={joinfile}", "--Budget:Limit=100Mbps", $"--Budget:Metadata:CaBundle={ca}",
            "--Budget:Metadata:Timeout=1s", "--Budget:MetadataWait=5s");
        var budget = await WaitForBudget(topology, b => Array(b, "admitted").Count + Array(b, "blocked").Count == Flows.Length,
            TimeSpan.FromSeconds(60), "every flow decided");
        var admitted = Array(budget, "admitted");
        var single = Assert.Single(admitted);
        Assert.Equal((Flows[0].Group, "cbacc", 2_000_000L),
            (single.GetProperty("group").GetString(), single.GetProperty("bitrateFrom").GetString(), single.GetProperty("bitsPerSecond").GetInt64()));
        var blocked = Array(budget, "blocked").ToDictionary(b => b.GetProperty("group").GetString()!);
        foreach (var (group, behaviour, expect) in Flows.Skip(1))
        {
            Assert.True(blocked.TryGetValue(group, out var block), $"{group} ({behaviour}) is not blocked");
            Assert.Equal("NoMetadata", block.GetProperty("reason").GetString());
            string detail = block.GetProperty("detail").GetString() ?? "";
            Assert.StartsWith("no CBACC metadata and no Budget:DefaultBitrate: ", detail, StringComparison.Ordinal);
            Assert.Contains(expect, detail, StringComparison.Ordinal);
        }
        Assert.False(node.HasExited);
        await node.Stop(TimeSpan.FromSeconds(20));

        // 2. A default bitrate and no CA bundle: the server's certificate is not trusted, so no flow has metadata, and
        // every one is admitted at the default, named as such.
        topology.StartNode(Path.Combine(lab.Directory, "node-b"),
            $"--Demand:Joinfile={joinfile}", "--Budget:Limit=100Mbps", "--Budget:DefaultBitrate=1Mbps",
            "--Budget:Metadata:Timeout=1s", "--Budget:MetadataWait=5s");
        var fallback = await WaitForBudget(topology, b => Array(b, "admitted").Count == Flows.Length, TimeSpan.FromSeconds(60), "every flow admitted");
        Assert.All(Array(fallback, "admitted"), a =>
        {
            Assert.Equal(1_000_000L, a.GetProperty("bitsPerSecond").GetInt64());
            string from = a.GetProperty("bitrateFrom").GetString() ?? "";
            Assert.StartsWith("default (BadCertificate: ", from, StringComparison.Ordinal);
        });
        Assert.Empty(Array(fallback, "blocked"));
    }

    private static List<JsonElement> Array(JsonElement budget, string name) => [.. budget.GetProperty(name).EnumerateArray()];

    private static async Task<JsonElement> WaitForBudget(IngestTopology topology, Func<JsonElement, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = topology.Lab.Exec("ing", "curl", "-sf", "--max-time", "5", $"{IngestTopology.AdminUrl}/budget");
                using var document = JsonDocument.Parse(last);
                var budget = document.RootElement.Clone();
                if (condition(budget))
                {
                    return budget;
                }
            }
            catch (Exception e) when (e is InvalidOperationException or JsonException or KeyNotFoundException)
            {
                last = e.Message;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"timed out waiting for {what}; last /budget: {last}");
    }
}
