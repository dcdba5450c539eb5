using System.Net;
using System.Text.RegularExpressions;
using IngestCluster.Lab.Topology;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>Malformed PIM sent at the node, and malformed or spoofed AMT sent at its tunnel, are counted and
/// dropped; the live flow, the neighbour and the admitted set do not change.</summary>
[Collection(SingleNodeLabCollection.Name)]
public sealed partial class MalformedInputTests(SingleNodeLab lab)
{
    private const string D0 = "interface=\"d0\"";

    [SkippableFact]
    public async Task Malformed_pim_and_amt_are_counted_and_dropped_and_nothing_else_changes()
    {
        RequiresKernel.MulticastRouting();
        var receiver = lab.StartReceiver(IngestTopology.Source, "--duration", "25s", "--expect-rate", "100");
        await receiver.WaitForLine(l => l.Contains("\"received\":") && !l.Contains("\"received\":0,"), TimeSpan.FromSeconds(20));
        // The tunnel that carries the stream now: the last one opened (an earlier test of this lab may have opened
        // and closed others, each from its own port).
        string opened = $"tunnel.open: relay {IngestTopology.Relay}:2268 for source {IngestTopology.Source}";
        await lab.Node.WaitForLine(l => l.Contains(opened), TimeSpan.FromSeconds(5));
        var tunnelLine = lab.Node.Lines().Last(l => l.Contains(opened));
        string tunnelPort = LocalPort().Matches(tunnelLine)[^1].Groups[1].Value;
        var admittedBefore = lab.AdmittedFlows();

        long badChecksum = Pim("BadChecksum"), truncated = Pim("Truncated"), lying = Pim("LengthMismatch");
        long notForUs = lab.Counter("ingest_pim_join_prunes_not_for_us_total", D0);
        long nonSsm = lab.Counter("ingest_pim_entries_ignored_total", $"{D0},reason=\"NonSsm\"");
        long malformedAmt = Tunnel("malformed_amt"), malformedInner = Tunnel("malformed_inner"), wrongPeer = Tunnel("wrong_peer");

        // PIM from the router's side of the LAN, to ALL-PIM-ROUTERS.
        var join = new PimJoinPrune(IPAddress.Parse(IngestTopology.IngestDownstream), 210,
            [new(new PimEncodedGroup(IPAddress.Parse("232.9.9.9"), 32), [PimEncodedSource.Ssm(IPAddress.Parse(IngestTopology.Source))], [])]);
        var badSum = Encode(join);
        badSum[2] ^= 0x5a;
        var liar = Encode(join);
        liar[23] = 40; // the group's joined-source count (offset 22-23): 40 sources in 8 bytes
        PimHeader.FillChecksum(liar);
        InjectPim(badSum);
        InjectPim(liar);
        InjectPim([0x20, 0x00, 0xdf]);
        InjectPim(Encode(join with { UpstreamNeighbor = IPAddress.Parse("10.91.2.99") }));
        InjectPim(Encode(new PimJoinPrune(IPAddress.Parse(IngestTopology.IngestDownstream), 210,
            [new(new PimEncodedGroup(IPAddress.Parse("239.1.1.1"), 32), [PimEncodedSource.Ssm(IPAddress.Parse(IngestTopology.Source))], [])])));

        // AMT at the tunnel's port: spoofed from the relay's address and port, and from a stranger's port.
        InjectAmt("2268", tunnelPort, "0f000000");                 // no such AMT type
        InjectAmt("2268", tunnelPort, "0600" + new string('4', 40)); // Multicast Data whose inner header is junk
        InjectAmt("40000", tunnelPort, "0600" + new string('4', 40));

        await SingleNodeLab.WaitUntil(() =>
            Pim("BadChecksum") > badChecksum && Pim("LengthMismatch") > lying && Pim("Truncated") > truncated &&
            lab.Counter("ingest_pim_join_prunes_not_for_us_total", D0) > notForUs &&
            lab.Counter("ingest_pim_entries_ignored_total", $"{D0},reason=\"NonSsm\"") > nonSsm &&
            Tunnel("malformed_amt") > malformedAmt && Tunnel("malformed_inner") > malformedInner && Tunnel("wrong_peer") > wrongPeer,
            TimeSpan.FromSeconds(10), "every malformed packet counted");

        // Nothing else changed: same admitted set, FRR still our neighbour, the stream still flowing, the node up.
        Assert.Equal(admittedBefore, lab.AdmittedFlows());
        Assert.DoesNotContain("232.9.9.9", admittedBefore);
        Assert.True(lab.HasPimNeighbor(IngestTopology.RouterUpstream));
        var summary = await receiver.WaitForLine(l => l.Contains("\"event\":\"summary\""), TimeSpan.FromSeconds(40));
        Assert.Contains("\"lossRatio\":0", summary, StringComparison.Ordinal);
        Assert.False(lab.Node.HasExited);
    }

    private long Pim(string reason) => lab.Counter("ingest_pim_packets_dropped_total", $"{D0},reason=\"{reason}\"");

    private long Tunnel(string reason) => lab.Counter("ingest_tunnel_dropped_total", $"reason=\"{reason}\"");

    private static byte[] Encode(PimJoinPrune message)
    {
        var bytes = new byte[message.Length];
        message.Write(bytes);
        return bytes;
    }

    private void InjectPim(byte[] pim) =>
        lab.Topology.Lab.Exec("rtr", "dotnet", IngestTopology.Program("IngestCluster.Lab"), "inject", "--interface", "u0",
            "--from", IngestTopology.RouterUpstream, "--to", "224.0.0.13", "--protocol", "103", "--tos", "192",
            "--hex", Convert.ToHexString(pim));

    private void InjectAmt(string sourcePort, string tunnelPort, string hex) =>
        lab.Topology.Lab.Exec("rly", "dotnet", IngestTopology.Program("IngestCluster.Lab"), "inject",
            "--from", IngestTopology.Relay, "--to", "10.91.3.2", "--udp-sport", sourcePort, "--udp-dport", tunnelPort,
            "--ttl", "64", "--hex", hex);

    [GeneratedRegex("from local port ([0-9]+)")]
    private static partial Regex LocalPort();
}
