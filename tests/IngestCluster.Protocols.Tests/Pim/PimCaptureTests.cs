using System.Net;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Protocols.Tests.Pim;

/// <summary>FRR 8.4's Hellos, Join and Prune (router 10.92.0.1, upstream neighbour 10.92.0.2), decoded and
/// re-encoded byte for byte.</summary>
public sealed class PimCaptureTests
{
    public static IReadOnlyList<(string From, byte[] Pim)> Messages() =>
        PcapNg.ReadIpPackets("pim", "frr-8.4-hello-join-prune.pcap")
            .Where(p => p.Ip[0] >> 4 == 4 && p.Ip[9] == PimHeader.IpProtocol)
            .Select(p => (new IPAddress(p.Ip.AsSpan(12, 4)).ToString(), Pcap.Ipv4Payload(p.Ip).Payload))
            .ToList();

    public static IReadOnlyList<byte[]> OfType(PimMessageType type) =>
        Messages().Select(m => m.Pim).Where(m => (m[0] & 0x0F) == (int)type).ToList();

    [Fact]
    public void Every_pim_packet_of_the_capture_decodes()
    {
        var messages = Messages();
        Assert.True(messages.Count >= 4);
        foreach (var (from, pim) in messages)
        {
            Assert.True(PimHeader.TryRead(pim, out var header, out var error), $"{from}: {error}");
            bool ok = header.Type switch
            {
                PimMessageType.Hello => PimHello.TryRead(pim, out _, out error),
                PimMessageType.JoinPrune => PimJoinPrune.TryRead(pim, out _, out error),
                _ => false,
            };
            Assert.True(ok, $"{from} type {header.Type}: {error}");
        }
    }

    [Fact]
    public void Frr_hello_carries_options_1_2_19_20_and_24()
    {
        var frr = Messages().First(m => m.From == "10.92.0.1" && (m.Pim[0] & 0x0F) == 0).Pim;

        Assert.True(PimHello.TryRead(frr, out var hello, out var error), error.ToString());
        Assert.Equal((ushort)105, hello.HoldtimeSeconds);
        Assert.Equal(new PimLanPruneDelay(false, 500, 2500), hello.LanPruneDelay);
        Assert.Equal(1u, hello.DrPriority);
        Assert.Equal(895623200u, hello.GenerationId);
        Assert.Equal(IPAddress.Parse("fe80::50bc:caff:fe84:e286"), Assert.Single(hello.AddressList));
        Assert.Empty(hello.UnknownOptions);
        Assert.False(hello.IsGoodbye);
    }

    [Fact]
    public void Frr_join_names_its_upstream_neighbour_holdtime_and_the_ssm_source()
    {
        var join = OfType(PimMessageType.JoinPrune)
            .Select(m => PimJoinPrune.TryRead(m, out var jp, out _) ? jp : null)
            .First(jp => jp!.Groups[0].Joined.Count == 1)!;

        Assert.Equal(IPAddress.Parse("10.92.0.2"), join.UpstreamNeighbor);
        Assert.Equal((ushort)210, join.HoldtimeSeconds);
        var group = Assert.Single(join.Groups);
        Assert.Equal(IPAddress.Parse("232.1.1.1"), group.Group.Address);
        Assert.Equal(32, group.Group.MaskLength);
        var source = Assert.Single(group.Joined);
        Assert.Equal(new PimEncodedSource(IPAddress.Parse("198.51.100.12"), 32, Sparse: true, Wildcard: false, Rpt: false), source);
        Assert.Empty(group.Pruned);
        Assert.Equal(34, join.Length);
    }

    [Fact]
    public void Frr_prune_after_the_receiver_left_prunes_the_same_channel()
    {
        var prune = OfType(PimMessageType.JoinPrune)
            .Select(m => PimJoinPrune.TryRead(m, out var jp, out _) ? jp : null)
            .Last(jp => jp!.Groups[0].Pruned.Count == 1)!;

        var group = Assert.Single(prune.Groups);
        Assert.Empty(group.Joined);
        Assert.Equal(PimEncodedSource.Ssm(IPAddress.Parse("198.51.100.12")), Assert.Single(group.Pruned));
        Assert.Equal(IPAddress.Parse("10.92.0.2"), prune.UpstreamNeighbor);
    }

    [Fact]
    public void Every_captured_hello_and_join_prune_re_encodes_byte_for_byte()
    {
        foreach (var (from, pim) in Messages())
        {
            var buffer = Hex.Filled(pim.Length + 8);
            int written = (pim[0] & 0x0F) switch
            {
                0 when PimHello.TryRead(pim, out var hello, out _) => hello.Write(buffer),
                3 when PimJoinPrune.TryRead(pim, out var jp, out _) => jp.Write(buffer),
                _ => throw new InvalidDataException($"{from}: undecodable {Hex.Of(pim)}"),
            };
            Assert.Equal(Hex.Of(pim), Hex.Of(buffer.AsSpan(0, written)));
            Assert.All(buffer[written..], b => Assert.Equal(0xff, b));
        }
    }
}
