using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

[CollectionDefinition(Name)]
public sealed class SingleNodeLabCollection : ICollectionFixture<SingleNodeLab>
{
    public const string Name = "single-node lab";
}

/// <summary>Sources whose relay cannot be had get a clear status; the node and its other flows carry on.</summary>
[Collection(SingleNodeLabCollection.Name)]
public sealed class NoRelayTests(SingleNodeLab lab)
{
    [SkippableFact]
    public async Task Missing_records_type_0_and_a_dead_relay_each_get_a_clear_status_while_a_live_flow_keeps_running()
    {
        RequiresKernel.MulticastRouting();
        // A live flow first: a receiver behind FRR, whose Join brings the stream.
        var receiver = lab.StartReceiver(IngestTopology.Source, "--duration", "40s");
        await receiver.WaitForLine(l => l.Contains("\"status\"") && !l.Contains("\"received\":0,"), TimeSpan.FromSeconds(20));

        lab.AddJoinfileLines(
            $"{IngestTopology.SourceWithoutRecord},{SingleNodeLab.Group}",
            $"{IngestTopology.SourceWithNoRelay},{SingleNodeLab.Group}",
            $"{IngestTopology.SourceWithDeadRelay},{SingleNodeLab.Group}");

        await SingleNodeLab.WaitUntil(() => Detail(IngestTopology.SourceWithoutRecord)?.Contains("no AMTRELAY record for 10.91.5.2") == true,
            TimeSpan.FromSeconds(20), "the no-record status");
        await SingleNodeLab.WaitUntil(() => Detail(IngestTopology.SourceWithNoRelay)?.Contains("type 0") == true,
            TimeSpan.FromSeconds(20), "the type-0 status");
        // The dead relay: discovery goes unanswered, the tunnel gives up, the relay is held down.
        await SingleNodeLab.WaitUntil(() => HeldDown(IngestTopology.SourceWithDeadRelay).Any(r => r.Contains(IngestTopology.DeadRelay)),
            TimeSpan.FromSeconds(60), "the dead relay's hold-down");
        Assert.True(lab.Counter("ingest_source_relay_failures_total") >= 1);

        // The live flow kept going throughout, and the node is still up.
        var summary = await receiver.WaitForLine(l => l.Contains("\"summary\""), TimeSpan.FromSeconds(40));
        using var json = JsonDocument.Parse(summary);
        Assert.True(json.RootElement.GetProperty("lossRatio").GetDouble() < 0.05, summary);
        Assert.False(lab.Node.HasExited);
    }

    private string? Detail(string source) => lab.SourceStatus(source)?.GetProperty("detail").GetString();

    private IEnumerable<string> HeldDown(string source) =>
        lab.SourceStatus(source)?.GetProperty("heldDownRelays").EnumerateArray().Select(e => e.GetString() ?? "") ?? [];
}
