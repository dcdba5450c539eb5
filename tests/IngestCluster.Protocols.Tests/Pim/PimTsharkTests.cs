using System.Net;
using IngestCluster.Protocols.Ip;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Protocols.Tests.Pim;

/// <summary>Wireshark's PIM dissector, written by others, reads back what our PIM writers encode, checksum included.</summary>
public sealed class PimTsharkTests
{
    private static byte[] InIpv4(byte[] pim, uint source)
    {
        var header = new Ipv4HeaderBuilder { Tos = 0xC0, Ttl = 1, Protocol = PimHeader.IpProtocol, Source = source, Destination = 0xE000000D };
        var packet = new byte[header.Length + pim.Length];
        header.Write(packet, pim.Length);
        pim.CopyTo(packet, header.Length);
        return packet;
    }

    [Fact]
    public void Tshark_reads_back_our_hello_options_with_a_good_checksum()
    {
        var hello = new PimHello
        {
            HoldtimeSeconds = 105,
            LanPruneDelay = new PimLanPruneDelay(false, 500, 2500),
            DrPriority = 42,
            GenerationId = 3141592653,
            AddressList = [IPAddress.Parse("10.91.2.7"), IPAddress.Parse("10.91.2.8")],
        };
        var rows = Tshark.Fields([InIpv4(PimMessageTests.Encode(hello), 0x0A5B0202)],
            ["pim.type", "pim.cksum.status", "pim.holdtime", "pim.propagation_delay", "pim.override_interval", "pim.dr_priority",
             "pim.generation_id", "pim.address_list", "ip.checksum.status"],
            "-o", "ip.check_checksum:TRUE");

        var row = Assert.Single(rows);
        Assert.Equal("0", row["pim.type"]);
        Assert.Equal("1", row["pim.cksum.status"]); // 1 = good
        Assert.Equal("1", row["ip.checksum.status"]);
        Assert.Equal("105", row["pim.holdtime"]);
        Assert.Equal("500", row["pim.propagation_delay"]);
        Assert.Equal("2500", row["pim.override_interval"]);
        Assert.Equal("42", row["pim.dr_priority"]);
        Assert.Equal("3141592653", row["pim.generation_id"]);
        Assert.Equal("10.91.2.7,10.91.2.8", row["pim.address_list"]);
    }

    [Fact]
    public void Tshark_reads_back_a_multi_group_join_prune_with_joined_and_pruned_sources()
    {
        var message = new PimJoinPrune(IPAddress.Parse("10.91.2.2"), 210,
        [
            new(new PimEncodedGroup(IPAddress.Parse("232.1.1.1"), 32),
                [PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.2")), PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.3"))],
                [PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.4"))]),
            new(new PimEncodedGroup(IPAddress.Parse("232.7.7.7"), 32), [], [PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.5"))]),
        ]);
        var rows = Tshark.Fields([InIpv4(PimMessageTests.Encode(message), 0x0A5B0201)],
            ["pim.type", "pim.cksum.status", "pim.upstream_neighbor", "pim.holdtime", "pim.numgroups", "pim.group",
             "pim.numjoins", "pim.numprunes", "pim.join_ip", "pim.prune_ip"]);

        var row = Assert.Single(rows);
        Assert.Equal("3", row["pim.type"]);
        Assert.Equal("1", row["pim.cksum.status"]);
        Assert.Equal("10.91.2.2", row["pim.upstream_neighbor"]);
        Assert.Equal("210", row["pim.holdtime"]);
        Assert.Equal("2", row["pim.numgroups"]);
        Assert.Contains("232.1.1.1", row["pim.group"], StringComparison.Ordinal);
        Assert.Contains("232.7.7.7", row["pim.group"], StringComparison.Ordinal);
        Assert.Equal("2,0", row["pim.numjoins"]);
        Assert.Equal("1,1", row["pim.numprunes"]);
        Assert.Equal("10.91.4.2,10.91.4.3", row["pim.join_ip"]);
        Assert.Equal("10.91.4.4,10.91.4.5", row["pim.prune_ip"]);
    }

    [Fact]
    public void Tshark_flags_a_corrupted_checksum_as_bad()
    {
        var pim = PimMessageTests.Encode(new PimHello { HoldtimeSeconds = 105, GenerationId = 7 });
        pim[^1] ^= 0x01;
        var row = Assert.Single(Tshark.Fields([InIpv4(pim, 0x0A5B0202)], ["pim.cksum.status"]));
        Assert.Equal("0", row["pim.cksum.status"]); // 0 = bad: the check above is not vacuous
    }
}
