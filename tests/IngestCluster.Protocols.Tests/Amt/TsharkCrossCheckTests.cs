using System.Net;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests.Amt;

/// <summary>Wireshark's dissectors, written by others, must read back every field we encode.</summary>
public class TsharkCrossCheckTests
{
    private const uint Gateway = 0x0A4D0002;  // 10.77.0.2
    private const uint Relay = 0x0A4D0001;    // 10.77.0.1
    private const ushort GatewayPort = 41000;
    private static readonly string[] CheckChecksums = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"];

    private static readonly IgmpV3Report Report = new(
    [
        new(IgmpRecordType.ModeIsInclude, IPAddress.Parse("232.1.1.1"), [IPAddress.Parse("10.78.0.2")]),
        new(IgmpRecordType.ModeIsExclude, IPAddress.Parse("232.1.1.2"), []),
        new(IgmpRecordType.ChangeToInclude, IPAddress.Parse("232.1.1.3"), [IPAddress.Parse("10.78.0.3"), IPAddress.Parse("10.78.0.4")]),
        new(IgmpRecordType.ChangeToExclude, IPAddress.Parse("232.1.1.4"), []),
        new(IgmpRecordType.AllowNewSources, IPAddress.Parse("232.1.1.5"), [IPAddress.Parse("10.78.0.5")]),
        new(IgmpRecordType.BlockOldSources, IPAddress.Parse("232.1.1.6"), [IPAddress.Parse("10.78.0.6")]),
    ]);

    private static byte[] Bytes(int length, Func<Span<byte>, int> write)
    {
        var buffer = new byte[length];
        Assert.Equal(length, write(buffer));
        return buffer;
    }

    private static byte[] ReportDatagram() => Bytes(IgmpV3Datagram.ReportLength(Report), d => IgmpV3Datagram.WriteReport(d, Gateway, Report));

    private static byte[] QueryDatagram()
    {
        var query = new IgmpV3Query(IgmpV3Query.EncodeMaxResponseTime(TimeSpan.FromSeconds(1.6)), IPAddress.Any, true, 2,
            IgmpV3Query.EncodeQueryInterval(TimeSpan.FromSeconds(20)), []);
        var header = new Ipv4HeaderBuilder { Tos = 0xc0, Ttl = 1, Protocol = 2, Identification = 0x4567, Destination = 0xE0000001 };
        var datagram = new byte[header.Length + query.Length];
        header.Write(datagram, query.Length);
        query.Write(datagram.AsSpan(header.Length));
        return datagram;
    }

    private static byte[] ToRelay(byte[] amt) => Udp.Build(Gateway, Relay, GatewayPort, AmtMessage.RelayPort, amt);

    private static byte[] FromRelay(byte[] amt) => Udp.Build(Relay, Gateway, AmtMessage.RelayPort, GatewayPort, amt);

    [Fact]
    public void Tshark_reads_back_our_igmpv3_report_with_router_alert()
    {
        var rows = Tshark.Fields([ReportDatagram()],
            ["ip.hdr_len", "ip.opt.type", "ip.checksum.status", "ip.dst", "ip.ttl", "igmp.type", "igmp.checksum.status", "igmp.num_grp_recs", "igmp.record_type", "igmp.maddr", "igmp.saddr"],
            CheckChecksums);
        var row = Assert.Single(rows);
        Assert.Equal("24", row["ip.hdr_len"]);
        Assert.Equal("148", row["ip.opt.type"]);
        Assert.Equal("1", row["ip.checksum.status"]); // 1 = good
        Assert.Equal("224.0.0.22", row["ip.dst"]);
        Assert.Equal("1", row["ip.ttl"]);
        Assert.Equal("0x22", row["igmp.type"]);
        Assert.Equal("1", row["igmp.checksum.status"]);
        Assert.Equal("6", row["igmp.num_grp_recs"]);
        Assert.Equal(string.Join(',', Report.Records.Select(r => (int)r.Type)), row["igmp.record_type"]);
        Assert.Equal(string.Join(',', Report.Records.Select(r => r.Group)), row["igmp.maddr"]);
        Assert.Equal(string.Join(',', Report.Records.SelectMany(r => r.Sources)), row["igmp.saddr"]);
    }

    [Fact]
    public void Tshark_reads_back_all_seven_amt_message_types()
    {
        var queryDatagram = QueryDatagram();
        var dataDatagram = Udp.Build(0x0A4E0002, 0xE8010101, 50598, 5001, "pkt0001"u8);
        var packets = new List<byte[]>
        {
            ToRelay(Bytes(8, new AmtRelayDiscovery(0x4c18fdf2).Write)),
            FromRelay(Bytes(12, new AmtRelayAdvertisement(0x4c18fdf2, IPAddress.Parse("10.77.0.1")).Write)),
            ToRelay(Bytes(8, new AmtRequest(0x9aaad92a, MldRequested: true).Write)),
        };
        var query = new AmtMembershipQuery(true, 0x11a0c6da5c6a, 0x9aaad92a, queryDatagram, GatewayPort, IPAddress.Parse("10.77.0.2"));
        packets.Add(FromRelay(Bytes(query.Length, query.Write)));
        var update = new AmtMembershipUpdate(0x11a0c6da5c6a, 0x9aaad92a, ReportDatagram());
        packets.Add(ToRelay(Bytes(update.Length, update.Write)));
        packets.Add(FromRelay(Bytes(AmtMulticastData.HeaderLength + dataDatagram.Length, d => AmtMulticastData.Write(d, dataDatagram))));
        packets.Add(ToRelay(Bytes(30, new AmtTeardown(0xa4c39089f2a1, 0x3acfeabe, GatewayPort, IPAddress.Parse("2001:db8::2")).Write)));

        var rows = Tshark.Fields(packets,
        [
            "ip.checksum.status", "udp.checksum.status", "amt.version", "amt.type", "amt.discovery_nonce", "amt.relay_address.ipv4",
            "amt.request_nonce", "amt.request.p", "amt.membership_query.l", "amt.membership_query.g", "amt.response_mac",
            "amt.gateway.port_number", "amt.gateway.ip_address", "igmp.type", "igmp.checksum.status", "igmp.max_resp", "igmp.qqic",
            "igmp.qrv", "igmp.s", "igmp.record_type", "udp.dstport",
        ], CheckChecksums);
        Assert.Equal(7, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), rows[i]["amt.type"]);
            Assert.Equal("0", rows[i]["amt.version"]);
            Assert.All(rows[i]["ip.checksum.status"].Split(','), s => Assert.Equal("1", s));
            Assert.Equal("1", rows[i]["udp.checksum.status"].Split(',')[0]);
        }
        Assert.Equal("0x4c18fdf2", rows[0]["amt.discovery_nonce"]);
        Assert.Equal("0x4c18fdf2", rows[1]["amt.discovery_nonce"]);
        Assert.Equal("10.77.0.1", rows[1]["amt.relay_address.ipv4"]);
        Assert.Equal("0x9aaad92a", rows[2]["amt.request_nonce"]);
        Assert.Equal("1", rows[2]["amt.request.p"]);

        var q = rows[3];
        Assert.Equal(("1", "1"), (q["amt.membership_query.l"], q["amt.membership_query.g"]));
        Assert.Equal(0x11a0c6da5c6aUL, Convert.ToUInt64(q["amt.response_mac"], 16));
        Assert.Equal("0x9aaad92a", q["amt.request_nonce"]);
        Assert.Equal("41000", q["amt.gateway.port_number"]);
        Assert.Equal(IPAddress.Parse("::10.77.0.2"), IPAddress.Parse(q["amt.gateway.ip_address"]));
        Assert.Equal(("0x11", "1"), (q["igmp.type"], q["igmp.checksum.status"]));
        Assert.Equal(("16", "20", "2", "1"), (q["igmp.max_resp"], q["igmp.qqic"], q["igmp.qrv"], q["igmp.s"]));

        var u = rows[4];
        Assert.Equal(0x11a0c6da5c6aUL, Convert.ToUInt64(u["amt.response_mac"], 16));
        Assert.Equal("0x9aaad92a", u["amt.request_nonce"]);
        Assert.Equal(("0x22", "1"), (u["igmp.type"], u["igmp.checksum.status"]));
        Assert.Equal("1,2,3,4,5,6", u["igmp.record_type"]);

        Assert.Equal("41000,5001", rows[5]["udp.dstport"]); // relay to gateway, then the inner UDP datagram

        var t = rows[6];
        Assert.Equal(0xa4c39089f2a1UL, Convert.ToUInt64(t["amt.response_mac"], 16));
        Assert.Equal("0x3acfeabe", t["amt.request_nonce"]);
        Assert.Equal("41000", t["amt.gateway.port_number"]);
        Assert.Equal(IPAddress.Parse("2001:db8::2"), IPAddress.Parse(t["amt.gateway.ip_address"]));
    }
}
