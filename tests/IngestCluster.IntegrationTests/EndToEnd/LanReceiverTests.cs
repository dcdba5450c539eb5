using System.Globalization;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>
/// The data path end to end with no PIM router in it, so that it runs on any kernel (JoinLeaveTests needs the
/// kernel's multicast routing for FRR): a joinfile line is the demand; the node finds the relay through bind9's
/// AMTRELAY record, tunnels to our relay, and a receiver on the node's own downstream LAN (the router's u0, in
/// namespaces iclan-*) gets the 100 packets/s stream; removing the line releases the flow, the tunnel leaves the
/// group at the relay and the LAN goes quiet.
/// </summary>
public sealed class LanReceiverTests
{
    private const string Group = "232.1.1.1";
    private const int Port = 5001;
    private const int Rate = 100;

    [Fact]
    public async Task A_joinfile_line_brings_the_stream_through_the_tunnel_onto_the_lan_and_its_removal_stops_it()
    {
        await using var topology = await IngestTopology.Create("iclan");
        var lab = topology.Lab;
        var relay = topology.StartLab("rly", "relay", "relay", "--listen", IngestTopology.Relay, "--upstream-interface", "b0",
            "--qqic", "20", "--qrv", "2", "--status-interval", "1s");
        await relay.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        topology.StartLab("src", "source", "source", "--group", Group, "--port", Port.ToString(CultureInfo.InvariantCulture),
            "--interface", "s0", "--rate", Rate.ToString(CultureInfo.InvariantCulture), "--size", "1316", "--ttl", "16");
        var receiver = topology.StartLab("rtr", "receiver", "receiver", "--source", IngestTopology.Source, "--group", Group,
            "--port", Port.ToString(CultureInfo.InvariantCulture), "--interface", "u0", "--status-interval", "500ms");
        await receiver.WaitForLine(l => l.Contains("\"event\":\"joined\"", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        string joinfile = Path.Combine(lab.Directory, "demand.csv");
        File.WriteAllText(joinfile, "");
        var node = topology.StartNode(Path.Combine(lab.Directory, "node-data"),
            $"--Demand:Joinfile={joinfile}", "--Demand:JoinfileDebounce=50ms");
        await SingleNodeLab.WaitUntil(() => TryMetrics(topology) is not null, TimeSpan.FromSeconds(60), "the node's admin API");
        Assert.Equal(0, ReceiverStatus.Received(receiver)); // nothing on the LAN before the demand

        var joinedAt = DateTime.UtcNow;
        WriteJoinfile(joinfile, $"{IngestTopology.Source},{Group}\n");
        await SingleNodeLab.WaitUntil(() => ReceiverStatus.Received(receiver) > 0, TimeSpan.FromSeconds(20), "the first packet at the LAN receiver");
        double firstPacketSeconds = (DateTime.UtcNow - joinedAt).TotalSeconds;

        // Steady: at least 95% of the stream over 5 s, and the node counts the flow and its first packet.
        long before = ReceiverStatus.Received(receiver);
        var from = DateTime.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(5));
        long during = ReceiverStatus.Received(receiver) - before;
        double window = (DateTime.UtcNow - from).TotalSeconds;
        string flow = $"source=\"{IngestTopology.Source}\",group=\"{Group}\"";
        string metrics = TryMetrics(topology) ?? throw new InvalidOperationException("the node's /metrics did not answer");
        Assert.True(during >= 0.95 * Rate * (window - 0.5), $"received {during} in {window:0.0} s");
        Assert.True(Value(metrics, "ingest_flow_packets_total", flow) > 0, "the flow's packets counted");
        Assert.True(Value(metrics, "ingest_join_to_first_packet_seconds_count", "") >= 1, "a join-to-first-packet observation");
        Assert.True(firstPacketSeconds < 10, $"first packet {firstPacketSeconds:0.00} s after the joinfile line");

        // The line removed: the flow is released, the tunnel leaves the group at the relay, the LAN goes quiet.
        WriteJoinfile(joinfile, "");
        await relay.WaitForLine(l => l.Contains("\"event\":\"leave\"", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        await SingleNodeLab.WaitUntil(() => ReceiverStatus.Quiet(receiver, lines: 4), TimeSpan.FromSeconds(20), "the LAN receiver to go quiet");
        long egressed = Value(TryMetrics(topology)!, "ingest_egress_packets_total", "");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(egressed, Value(TryMetrics(topology)!, "ingest_egress_packets_total", ""));
        Assert.False(node.HasExited);
    }

    private static void WriteJoinfile(string path, string text)
    {
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static string? TryMetrics(IngestTopology topology)
    {
        try
        {
            return topology.NodeMetrics();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static long Value(string metrics, string name, string labels)
    {
        string prefix = labels.Length > 0 ? $"{name}{{{labels}}} " : $"{name} ";
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : (long)double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }
}
