using System.Net;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests.Amt;

/// <summary>
/// The capture of amtrelayd (relay 10.77.0.1) serving a test gateway (10.77.0.2) and a source 10.78.0.2 sending
/// to 232.1.1.1:5001: discovery, request, query, ALLOW update, data, a second request/query, BLOCK update.
/// </summary>
public class AmtCaptureTests
{
    private const uint Relay = 0x0A4D0001;    // 10.77.0.1
    private const uint Gateway = 0x0A4D0002;  // 10.77.0.2
    private const uint Source = 0x0A4E0002;   // 10.78.0.2
    private const uint Group = 0xE8010101;    // 232.1.1.1

    private sealed record AmtPacket(int Index, uint From, uint To, AmtMessageType Type, byte[] Message);

    private static readonly Lazy<IReadOnlyList<AmtPacket>> Messages = new(LoadMessages);

    private static IReadOnlyList<AmtPacket> LoadMessages()
    {
        var result = new List<AmtPacket>();
        var packets = PcapNg.ReadIpPackets("amt", "amtrelayd-tunnel-handshake-data-leave.pcap");
        Assert.Equal(135, packets.Count); // 139 frames, of which 4 are ARP (tshark: 128 IPv4, 7 IPv6)
        Assert.Equal(128, packets.Count(p => p.Ip[0] >> 4 == 4));
        foreach (var packet in packets)
        {
            if (packet.Ip[0] >> 4 != 4)
            {
                continue; // the capture's IPv6 neighbour discovery chatter
            }
            Assert.True(Ipv4Header.TryRead(packet.Ip, out var ip, out var error), $"packet {packet.Index}: {error}");
            var udp = Udp.Read(packet.Ip);
            if (udp is { } u && (u.SourcePort == AmtMessage.RelayPort || u.DestinationPort == AmtMessage.RelayPort))
            {
                Assert.True(AmtMessage.TryReadType(u.Payload, out var type, out error), $"packet {packet.Index}: {error}");
                result.Add(new AmtPacket(packet.Index, ip.Source, ip.Destination, type, u.Payload));
            }
        }
        return result;
    }

    private static byte[] Encode(int length, Func<Span<byte>, int> write)
    {
        var buffer = Hex.Filled(length);
        Assert.Equal(length, write(buffer));
        return buffer;
    }

    [Fact]
    public void Every_amt_message_in_the_capture_decodes_and_re_encodes_byte_for_byte()
    {
        var counts = new Dictionary<AmtMessageType, int>();
        foreach (var p in Messages.Value)
        {
            counts[p.Type] = counts.GetValueOrDefault(p.Type) + 1;
            byte[] encoded;
            ParseError error;
            switch (p.Type)
            {
                case AmtMessageType.RelayDiscovery:
                    Assert.True(AmtRelayDiscovery.TryRead(p.Message, out var discovery, out error), error.ToString());
                    encoded = Encode(discovery.Length, discovery.Write);
                    break;
                case AmtMessageType.RelayAdvertisement:
                    Assert.True(AmtRelayAdvertisement.TryRead(p.Message, out var advertisement, out error), error.ToString());
                    encoded = Encode(advertisement.Length, advertisement.Write);
                    break;
                case AmtMessageType.Request:
                    Assert.True(AmtRequest.TryRead(p.Message, out var request, out error), error.ToString());
                    encoded = Encode(request.Length, request.Write);
                    break;
                case AmtMessageType.MembershipQuery:
                    Assert.True(AmtMembershipQuery.TryRead(p.Message, out var query, out error), error.ToString());
                    encoded = Encode(query.Length, query.Write);
                    Assert.True(IgmpV3Datagram.TryReadQuery(query.EncapsulatedQuery.Span, out var igmpQuery, out error), error.ToString());
                    Assert.True(Ipv4Header.TryRead(query.EncapsulatedQuery.Span, out var qip, out _));
                    var rebuilt = new byte[qip.TotalLength];
                    var qheader = new Ipv4HeaderBuilder
                    {
                        Tos = qip.Tos, Ttl = qip.Ttl, Protocol = qip.Protocol, Identification = qip.Identification,
                        DontFragment = qip.DontFragment, RouterAlert = qip.HasRouterAlert, Source = qip.Source, Destination = qip.Destination,
                    };
                    qheader.Write(rebuilt, igmpQuery.Length);
                    igmpQuery.Write(rebuilt.AsSpan(qheader.Length));
                    Assert.Equal(Hex.Of(query.EncapsulatedQuery.Span), Hex.Of(rebuilt));
                    break;
                case AmtMessageType.MembershipUpdate:
                    Assert.True(AmtMembershipUpdate.TryRead(p.Message, out var update, out error), error.ToString());
                    encoded = Encode(update.Length, update.Write);
                    Assert.True(IgmpV3Datagram.TryReadReport(update.EncapsulatedReport.Span, out var report, out error), error.ToString());
                    var datagram = Encode(IgmpV3Datagram.ReportLength(report), d => IgmpV3Datagram.WriteReport(d, 0, report));
                    Assert.Equal(Hex.Of(update.EncapsulatedReport.Span), Hex.Of(datagram));
                    break;
                case AmtMessageType.MulticastData:
                    Assert.True(AmtMulticastData.TryRead(p.Message, out error), error.ToString());
                    Assert.True(Ipv4Header.TryRead(p.Message.AsSpan(AmtMulticastData.HeaderLength), out _, out error), error.ToString());
                    encoded = Encode(p.Message.Length, d => AmtMulticastData.Write(d, p.Message.AsSpan(AmtMulticastData.HeaderLength)));
                    break;
                default:
                    Assert.Fail($"packet {p.Index}: unexpected {p.Type}");
                    return;
            }
            Assert.True(Hex.Of(p.Message) == Hex.Of(encoded), $"packet {p.Index} ({p.Type}): captured {Hex.Of(p.Message)}, re-encoded {Hex.Of(encoded)}");
        }
        Assert.Equal(1, counts[AmtMessageType.RelayDiscovery]);
        Assert.Equal(1, counts[AmtMessageType.RelayAdvertisement]);
        Assert.Equal(2, counts[AmtMessageType.Request]);
        Assert.Equal(2, counts[AmtMessageType.MembershipQuery]);
        Assert.Equal(2, counts[AmtMessageType.MembershipUpdate]);
        Assert.True(counts[AmtMessageType.MulticastData] > 100);
    }

    [Fact]
    public void Advertisement_echoes_the_discovery_nonce_and_names_the_relay()
    {
        var discoveryPacket = Messages.Value.Single(p => p.Type == AmtMessageType.RelayDiscovery);
        var advertisementPacket = Messages.Value.Single(p => p.Type == AmtMessageType.RelayAdvertisement);
        Assert.Equal((Gateway, Relay), (discoveryPacket.From, discoveryPacket.To));
        Assert.True(AmtRelayDiscovery.TryRead(discoveryPacket.Message, out var discovery, out _));
        Assert.True(AmtRelayAdvertisement.TryRead(advertisementPacket.Message, out var advertisement, out _));
        Assert.Equal(discovery.Nonce, advertisement.Nonce);
        Assert.Equal(IPAddress.Parse("10.77.0.1"), advertisement.RelayAddress);
    }

    [Fact]
    public void Query_echoes_the_request_nonce_and_carries_an_ihl_5_igmpv3_general_query()
    {
        var first = Messages.Value.First(p => p.Type == AmtMessageType.Request);
        Assert.True(AmtRequest.TryRead(first.Message, out var request, out _));
        Assert.False(request.MldRequested);
        var queryPacket = Messages.Value.First(p => p.Type == AmtMessageType.MembershipQuery);
        Assert.Equal((Relay, Gateway), (queryPacket.From, queryPacket.To));
        Assert.True(AmtMembershipQuery.TryRead(queryPacket.Message, out var query, out _));
        Assert.Equal(request.Nonce, query.Nonce);
        Assert.Equal(0x11a0c6da5c6aUL, query.ResponseMac);
        Assert.False(query.LimitedCapacity);
        Assert.Null(query.GatewayAddress);
        Assert.Null(query.GatewayPort);

        Assert.True(Ipv4Header.TryRead(query.EncapsulatedQuery.Span, out var ip, out _));
        Assert.Equal(20, ip.HeaderLength);
        Assert.False(ip.HasRouterAlert);
        Assert.True(IgmpV3Datagram.TryReadQuery(query.EncapsulatedQuery.Span, out var igmp, out var error), error.ToString());
        Assert.True(igmp.IsGeneral);
        Assert.Equal(16, igmp.MaxRespCode);
        Assert.Equal(TimeSpan.FromSeconds(1.6), igmp.MaxResponseTime);
        Assert.Equal(20, igmp.Qqic);
        Assert.Equal(TimeSpan.FromSeconds(20), igmp.QueryInterval);
        Assert.Equal(2, igmp.Qrv);
        Assert.Empty(igmp.Sources);
    }

    [Fact]
    public void Updates_echo_the_latest_query_and_carry_allow_then_block_for_the_channel()
    {
        var ordered = Messages.Value.Where(p => p.Type is AmtMessageType.MembershipQuery or AmtMessageType.MembershipUpdate).ToList();
        Assert.Equal([AmtMessageType.MembershipQuery, AmtMessageType.MembershipUpdate, AmtMessageType.MembershipQuery, AmtMessageType.MembershipUpdate],
            ordered.Select(p => p.Type));
        var expected = new[] { IgmpRecordType.AllowNewSources, IgmpRecordType.BlockOldSources };
        for (int i = 0; i < 2; i++)
        {
            Assert.True(AmtMembershipQuery.TryRead(ordered[2 * i].Message, out var query, out _));
            Assert.True(AmtMembershipUpdate.TryRead(ordered[(2 * i) + 1].Message, out var update, out _));
            Assert.Equal((query.ResponseMac, query.Nonce), (update.ResponseMac, update.Nonce));
            Assert.True(IgmpV3Datagram.TryReadReport(update.EncapsulatedReport.Span, out var report, out var error), error.ToString());
            var record = Assert.Single(report.Records);
            Assert.Equal(expected[i], record.Type);
            Assert.Equal(IPAddress.Parse("232.1.1.1"), record.Group);
            Assert.Equal([IPAddress.Parse("10.78.0.2")], record.Sources);
        }
    }

    [Fact]
    public void Multicast_data_carries_the_sources_udp_datagrams_and_stops_after_the_block()
    {
        var blockIndex = Messages.Value.Last(p => p.Type == AmtMessageType.MembershipUpdate).Index;
        var data = Messages.Value.Where(p => p.Type == AmtMessageType.MulticastData).ToList();
        Assert.All(data, p => Assert.True(p.Index < blockIndex, $"data packet {p.Index} after the BLOCK update {blockIndex}"));
        foreach (var p in data)
        {
            Assert.Equal((Relay, Gateway), (p.From, p.To));
            var inner = p.Message.AsSpan(AmtMulticastData.HeaderLength);
            Assert.True(Ipv4Header.TryRead(inner, out var ip, out var error), error.ToString());
            Assert.Equal((Source, Group), (ip.Source, ip.Destination));
            Assert.Equal(Udp.Protocol, ip.Protocol);
            Assert.Equal(8, ip.Ttl);
            Assert.Equal(20, ip.HeaderLength);
            Assert.Equal(inner.Length, ip.TotalLength);
            var udp = Udp.Read(inner);
            Assert.Equal((ushort)5001, udp!.Value.DestinationPort);
        }
    }
}
