using System.Globalization;
using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>The product's reason to exist: a receiver's join becomes FRR's PIM Join to the node, which finds
/// the relay through DNS, tunnels to it and puts the stream on the LAN; the leave takes it all down again.</summary>
[Collection(SingleNodeLabCollection.Name)]
public sealed class JoinLeaveTests(SingleNodeLab lab)
{
    [SkippableFact]
    public async Task A_receivers_join_brings_the_stream_through_frr_and_the_tunnel_and_its_leave_stops_it()
    {
        RequiresKernel.MulticastRouting();
        await lab.WaitUntilNotAdmitted(IngestTopology.Source);

        var receiver = lab.StartReceiver(IngestTopology.Source, "--leave-after", "12s", "--linger", "9s", "--expect-rate", "100");
        var joined = await receiver.WaitForLine(l => l.Contains("\"event\":\"joined\"", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        // FRR sent a Join for (S,G) to us, and the node took it.
        await SingleNodeLab.WaitUntil(() => lab.PimJoined(IngestTopology.Source), TimeSpan.FromSeconds(10), "the PIM join in the node's demand");
        await SingleNodeLab.WaitUntil(() => lab.Admitted(IngestTopology.Source), TimeSpan.FromSeconds(10), "admission of the flow");
        // While it flows, the node counts it per (S,G) (read now: the series ends with the flow).
        string flow = $"source=\"{IngestTopology.Source}\",group=\"{SingleNodeLab.Group}\"";
        await SingleNodeLab.WaitUntil(() => lab.Counter("ingest_flow_packets_total", flow) > 0, TimeSpan.FromSeconds(10), "the flow's packets counted");

        var left = await receiver.WaitForLine(l => l.Contains("\"event\":\"left\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var leftAt = DateTime.UtcNow;

        // The leave: FRR prunes, the node releases the flow and the tunnel sends BLOCK to the relay.
        await SingleNodeLab.WaitUntil(() => !lab.PimJoined(IngestTopology.Source), TimeSpan.FromSeconds(10), "the prune in the node's demand");
        await lab.Relay.WaitForLine(l => l.Contains("\"event\":\"leave\"", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        // No more packets on the downstream link within 5 s of the leave.
        var quietFrom = leftAt.AddSeconds(5);
        if (DateTime.UtcNow < quietFrom)
        {
            await Task.Delay(quietFrom - DateTime.UtcNow);
        }
        long egressed = lab.Counter("ingest_egress_packets_total");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(egressed, lab.Counter("ingest_egress_packets_total"));
        // The flow ended on the node: its per-(S,G) series left /metrics (the node-wide ones stay).
        await SingleNodeLab.WaitUntil(() => !lab.HasSeries("ingest_flow_packets_total", flow), TimeSpan.FromSeconds(10),
            "the flow's series gone from /metrics");

        var summary = await receiver.WaitForLine(l => l.Contains("\"event\":\"summary\"", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        using var json = JsonDocument.Parse(summary);
        var root = json.RootElement;
        double firstPacketMs = root.GetProperty("firstPacketMs").GetDouble();
        long received = root.GetProperty("received").GetInt64();
        Assert.True(firstPacketMs < 3000, $"first packet {firstPacketMs} ms after the join: {summary}");
        // At least 95% of the 100 packets/s stream, from the first packet to the leave.
        double window = 12.0 - (firstPacketMs / 1000.0);
        Assert.True(received >= 0.95 * SingleNodeLab.Rate * window, $"received {received} in {window:0.0} s: {summary}");
        Assert.True(root.GetProperty("lossRatio").GetDouble() <= 0.05, summary);
        _ = joined;
        _ = left;
    }
}
