using System.Net;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests.Igmp;

/// <summary>A Linux receiver (10.91.0.2) joining and leaving (198.51.100.12, 232.1.1.1), FRR 8.4 (10.91.0.1) as querier.</summary>
public class IgmpCaptureTests
{
    private static IReadOnlyList<PcapPacket> Packets() => PcapNg.ReadIpPackets("igmp", "frr-8.4-receiver-side-igmpv3.pcap");

    private static byte[] RebuildHeader(Ipv4Header ip, int payloadLength)
    {
        var header = new Ipv4HeaderBuilder
        {
            Tos = ip.Tos, Ttl = ip.Ttl, Protocol = ip.Protocol, Identification = ip.Identification,
            DontFragment = ip.DontFragment, RouterAlert = ip.HasRouterAlert, Source = ip.Source, Destination = ip.Destination,
        };
        var buffer = Hex.Filled(header.Length);
        header.Write(buffer, payloadLength);
        return buffer;
    }

    [Fact]
    public void Every_packet_decodes_with_router_alert_and_re_encodes_byte_for_byte()
    {
        var packets = Packets();
        Assert.Equal(10, packets.Count);
        int queries = 0, reports = 0;
        foreach (var packet in packets)
        {
            var bytes = packet.Ip;
            Assert.True(Ipv4Header.TryRead(bytes, out var ip, out var error), $"packet {packet.Index}: {error}");
            Assert.Equal(24, ip.HeaderLength);
            Assert.True(ip.HasRouterAlert);
            Assert.Equal(1, ip.Ttl);
            var igmp = bytes.AsSpan(ip.HeaderLength, ip.PayloadLength);
            byte[] encoded;
            if (igmp[0] == IgmpV3Query.MessageType)
            {
                Assert.True(IgmpV3Datagram.TryReadQuery(bytes, out var query, out error), $"packet {packet.Index}: {error}");
                encoded = Hex.Filled(query.Length);
                query.Write(encoded);
                queries++;
            }
            else
            {
                Assert.True(IgmpV3Datagram.TryReadReport(bytes, out var report, out error), $"packet {packet.Index}: {error}");
                encoded = Hex.Filled(report.Length);
                report.Write(encoded);
                reports++;
            }
            Assert.Equal(Hex.Of(igmp), Hex.Of(encoded));
            Assert.Equal(Hex.Of(bytes.AsSpan(0, ip.HeaderLength)), Hex.Of(RebuildHeader(ip, encoded.Length)));
        }
        Assert.Equal((3, 7), (queries, reports));
    }

    [Fact]
    public void Receiver_reports_allow_on_join_and_block_on_leave()
    {
        var fromReceiver = Packets().Where(p => Ipv4Header.TryRead(p.Ip, out var ip, out _) && ip.Source == 0x0A5B0002).ToList();
        Assert.Equal(4, fromReceiver.Count);
        var types = new List<IgmpRecordType>();
        foreach (var packet in fromReceiver)
        {
            Assert.True(IgmpV3Datagram.TryReadReport(packet.Ip, out var report, out var error), error.ToString());
            var record = Assert.Single(report.Records);
            Assert.Equal(IPAddress.Parse("232.1.1.1"), record.Group);
            Assert.Equal([IPAddress.Parse("198.51.100.12")], record.Sources);
            types.Add(record.Type);
        }
        Assert.Equal([IgmpRecordType.AllowNewSources, IgmpRecordType.AllowNewSources, IgmpRecordType.BlockOldSources, IgmpRecordType.BlockOldSources], types);
    }

    [Fact]
    public void Frr_reports_its_own_groups_as_exclude_records_with_no_sources()
    {
        var packets = Packets();
        Assert.True(IgmpV3Datagram.TryReadReport(packets[0].Ip, out var first, out _));
        Assert.True(IgmpV3Datagram.TryReadReport(packets[5].Ip, out var periodic, out _));
        IPAddress[] groups = [IPAddress.Parse("224.0.0.13"), IPAddress.Parse("224.0.0.22"), IPAddress.Parse("224.0.0.2")];
        Assert.Equal(groups.Select(g => new IgmpV3GroupRecord(IgmpRecordType.ChangeToExclude, g, [])), first.Records);
        Assert.Equal(groups.Select(g => new IgmpV3GroupRecord(IgmpRecordType.ModeIsExclude, g, [])), periodic.Records);
    }

    [Fact]
    public void Frr_general_query_and_group_and_source_specific_queries_are_read()
    {
        var queries = Packets()
            .Select(p => (Ok: IgmpV3Datagram.TryReadQuery(p.Ip, out var q, out _), Query: q))
            .Where(x => x.Ok).Select(x => x.Query!).ToList();
        Assert.Equal(3, queries.Count);
        var general = queries[0];
        Assert.True(general.IsGeneral);
        Assert.Equal(TimeSpan.FromSeconds(10), general.MaxResponseTime);
        Assert.Equal(TimeSpan.FromSeconds(125), general.QueryInterval);
        Assert.Equal(2, general.Qrv);
        Assert.True(general.SuppressRouterSideProcessing);
        Assert.Empty(general.Sources);
        foreach (var specific in queries.Skip(1))
        {
            Assert.Equal(IPAddress.Parse("232.1.1.1"), specific.Group);
            Assert.Equal([IPAddress.Parse("198.51.100.12")], specific.Sources);
            Assert.Equal(TimeSpan.FromSeconds(1), specific.MaxResponseTime);
            Assert.False(specific.SuppressRouterSideProcessing);
            Assert.Equal(2, specific.Qrv);
        }
    }
}
