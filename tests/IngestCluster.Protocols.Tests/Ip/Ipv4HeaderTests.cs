using System.Net;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests.Ip;

public class Ipv4HeaderTests
{
    // The IPv4 header of a Multicast Data packet from amtrelayd's capture: 10.78.0.2 -> 232.1.1.1, UDP, TTL 8, DF.
    private const string DataPacket = "45000023844c40000811fb2b0a4e0002e8010101c5a61389000f0000706b7430303031";

    [Fact]
    public void Header_fields_are_read_from_a_real_packet()
    {
        Assert.True(Ipv4Header.TryRead(Hex.Parse(DataPacket), out var h, out var error), error.ToString());
        Assert.Equal(20, h.HeaderLength);
        Assert.Equal(35, h.TotalLength);
        Assert.Equal(0x844c, h.Identification);
        Assert.Equal(8, h.Ttl);
        Assert.Equal(17, h.Protocol);
        Assert.Equal(0xfb2b, h.Checksum);
        Assert.Equal(0x0a4e0002u, h.Source);
        Assert.Equal(0xe8010101u, h.Destination);
        Assert.True(h.DontFragment);
        Assert.False(h.IsFragment);
        Assert.False(h.HasRouterAlert);
    }

    [Fact]
    public void Router_alert_option_with_ihl_6_is_honoured()
    {
        var builder = new Ipv4HeaderBuilder { Tos = 0xc0, Ttl = 1, Protocol = 2, RouterAlert = true, Destination = 0xe0000016 };
        var buffer = Hex.Filled(24 + 20);
        Assert.Equal(24, builder.Write(buffer, 20));
        // The header of the IGMPv3 report in amtrelayd's capture (a 20-byte report).
        Assert.Equal("46c0002c00000000010243f600000000e000001694040000", Hex.Of(buffer.AsSpan(0, 24)));
        Assert.True(Ipv4Header.TryRead(buffer, out var h, out var error), error.ToString());
        Assert.Equal(24, h.HeaderLength);
        Assert.True(h.HasRouterAlert);
    }

    [Fact]
    public void Bad_checksum_is_rejected_at_the_checksum_field()
    {
        var packet = Hex.Parse(DataPacket);
        packet[11] ^= 1;
        Assert.False(Ipv4Header.TryRead(packet, out _, out var error));
        Assert.Equal(ParseFailure.BadChecksum, error.Kind);
        Assert.Equal(10, error.Offset);
    }

    [Fact]
    public void Total_length_beyond_the_packet_is_rejected()
    {
        var packet = Hex.Parse(DataPacket);
        Assert.False(Ipv4Header.TryRead(packet.AsSpan(0, 34), out _, out var error));
        Assert.Equal(ParseFailure.Truncated, error.Kind);
    }

    [Fact]
    public void Ttl_of_1_is_not_decremented_and_nothing_changes()
    {
        var builder = new Ipv4HeaderBuilder { Ttl = 1, Protocol = 17, Source = 1, Destination = 2 };
        var packet = new byte[20];
        builder.Write(packet, 0);
        var before = packet.ToArray();
        Assert.False(Ipv4Header.TryDecrementTtl(packet));
        Assert.Equal(before, packet);
    }

    [Fact]
    public void Ttl_decrement_fixes_the_checksum_exactly_as_a_full_recompute_does()
    {
        var rng = new Random(791);
        var packet = new byte[20];
        for (int trial = 0; trial < 20_000; trial++)
        {
            var builder = new Ipv4HeaderBuilder
            {
                Tos = (byte)rng.Next(256), Ttl = (byte)rng.Next(2, 256), Protocol = (byte)rng.Next(256),
                Identification = (ushort)rng.Next(65536), Source = (uint)rng.NextInt64(1L << 32), Destination = (uint)rng.NextInt64(1L << 32),
            };
            builder.Write(packet, 0);
            Assert.True(Ipv4Header.TryDecrementTtl(packet));
            builder.Ttl--;
            var recomputed = new byte[20];
            builder.Write(recomputed, 0);
            Assert.True(recomputed.AsSpan().SequenceEqual(packet), $"seed 791 trial {trial}: {Hex.Of(packet)} vs {Hex.Of(recomputed)}");
        }
    }

    [Fact]
    public void Addresses_convert_in_network_order()
    {
        Assert.Equal(IPAddress.Parse("10.0.0.1"), Ipv4Header.ToAddress(0x0A000001));
        Assert.Equal(0x0A000001u, Ipv4Header.FromAddress(IPAddress.Parse("10.0.0.1")));
        Assert.Throws<ArgumentException>(() => Ipv4Header.FromAddress(IPAddress.IPv6Loopback));
    }
}
