using System.Net;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests.Igmp;

public class IgmpV3Tests
{
    private static readonly IPAddress G = IPAddress.Parse("232.1.1.1");
    private static readonly IPAddress S1 = IPAddress.Parse("10.78.0.2");
    private static readonly IPAddress S2 = IPAddress.Parse("198.51.100.12");

    [Theory]
    [InlineData(0, 0)]
    [InlineData(100, 100)]
    [InlineData(127, 127)]
    [InlineData(0x80, 128)]
    [InlineData(0x8f, 248)]
    [InlineData(0x90, 256)]
    [InlineData(0xff, 31744)]
    public void Codes_below_128_are_literal_and_above_are_floating_point(int code, int value)
    {
        Assert.Equal(value, IgmpV3Query.DecodeCode((byte)code));
    }

    [Fact]
    public void Encoding_a_code_gives_the_largest_representable_value_not_above_the_time()
    {
        for (int value = 0; value <= 40000; value++)
        {
            byte code = IgmpV3Query.EncodeCode(value);
            int decoded = IgmpV3Query.DecodeCode(code);
            Assert.True(decoded <= Math.Max(value, 0), $"value {value}: code 0x{code:x2} decodes to {decoded}");
            if (value <= IgmpV3Query.MaxCodeValue && code < 0xff)
            {
                Assert.True(IgmpV3Query.DecodeCode((byte)(code + 1)) > value, $"value {value}: code 0x{code:x2} is not the largest fitting one");
            }
        }
        Assert.Equal(0xff, IgmpV3Query.EncodeCode(1_000_000));
        Assert.Equal(125, IgmpV3Query.EncodeQueryInterval(TimeSpan.FromSeconds(125)));
        Assert.Equal(100, IgmpV3Query.EncodeMaxResponseTime(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(25.6), new IgmpV3Query(0x90, IPAddress.Any, false, 2, 0x90, []).MaxResponseTime);
        Assert.Equal(TimeSpan.FromSeconds(256), new IgmpV3Query(0x90, IPAddress.Any, false, 2, 0x90, []).QueryInterval);
    }

    [Fact]
    public void Group_and_source_specific_query_round_trips_with_its_flags()
    {
        var query = new IgmpV3Query(10, G, true, 7, 0xa0, [S1, S2]);
        var buffer = Hex.Filled(query.Length + 4);
        Assert.Equal(20, query.Write(buffer));
        Assert.Equal(0xff, buffer[20]);
        Assert.Equal(0x0f, buffer[8]);
        Assert.True(InternetChecksum.Verify(buffer.AsSpan(0, 20)));
        Assert.True(IgmpV3Query.TryRead(buffer.AsSpan(0, 20), out var read, out var error), error.ToString());
        Assert.Equal(query, read);
        Assert.False(read.IsGeneral);
    }

    [Fact]
    public void Query_with_a_source_count_beyond_the_message_is_rejected()
    {
        var bytes = new byte[16];
        new IgmpV3Query(10, G, false, 2, 125, [S1]).Write(bytes);
        bytes[11] = 2;
        bytes[2] = bytes[3] = 0;
        var checksum = InternetChecksum.Compute(bytes);
        bytes[2] = (byte)(checksum >> 8);
        bytes[3] = (byte)checksum;
        Assert.False(IgmpV3Query.TryRead(bytes, out _, out var error));
        Assert.Equal(ParseFailure.LengthMismatch, error.Kind);
        Assert.Equal(10, error.Offset);
    }

    [Fact]
    public void Igmpv2_query_is_unsupported_not_truncated()
    {
        Assert.False(IgmpV3Query.TryRead(Hex.Parse("11640000e0000001"), out _, out var error));
        Assert.Equal(ParseFailure.Unsupported, error.Kind);
    }

    [Fact]
    public void Report_with_all_six_record_types_and_aux_data_round_trips()
    {
        var report = new IgmpV3Report(
        [
            new(IgmpRecordType.ModeIsInclude, G, [S1]),
            new(IgmpRecordType.ModeIsExclude, G, []),
            new(IgmpRecordType.ChangeToInclude, G, [S1, S2]),
            new(IgmpRecordType.ChangeToExclude, G, []) { AuxiliaryData = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 } },
            new(IgmpRecordType.AllowNewSources, G, [S2]),
            new(IgmpRecordType.BlockOldSources, G, [S1]),
        ]);
        var buffer = Hex.Filled(report.Length + 3);
        int length = report.Write(buffer);
        Assert.Equal(8 + (6 * 8) + (5 * 4) + 8, length);
        Assert.All(buffer[length..], b => Assert.Equal(0xff, b));
        Assert.True(IgmpV3Report.TryRead(buffer.AsSpan(0, length), out var read, out var error), error.ToString());
        Assert.Equal(report, read);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], read.Records[3].AuxiliaryData.ToArray());
    }

    [Fact]
    public void Aux_data_length_is_honoured_so_the_next_record_is_found()
    {
        var report = new IgmpV3Report(
        [
            new(IgmpRecordType.AllowNewSources, G, [S1]) { AuxiliaryData = new byte[12] },
            new(IgmpRecordType.BlockOldSources, IPAddress.Parse("232.2.2.2"), [S2]),
        ]);
        var bytes = new byte[report.Length];
        report.Write(bytes);
        Assert.Equal(3, bytes[9]); // aux data length in 32-bit words
        Assert.True(IgmpV3Report.TryRead(bytes, out var read, out _));
        Assert.Equal(IPAddress.Parse("232.2.2.2"), read.Records[1].Group);
        Assert.Equal([S2], read.Records[1].Sources);
    }

    [Fact]
    public void Report_with_a_bad_checksum_is_rejected()
    {
        var report = new IgmpV3Report([new(IgmpRecordType.AllowNewSources, G, [S1])]);
        var bytes = new byte[report.Length];
        report.Write(bytes);
        bytes[^1] ^= 0x40;
        Assert.False(IgmpV3Report.TryRead(bytes, out _, out var error));
        Assert.Equal(ParseFailure.BadChecksum, error.Kind);
        Assert.Equal(2, error.Offset);
    }

    [Fact]
    public void Report_datagram_has_router_alert_tos_c0_ttl_1_and_goes_to_224_0_0_22()
    {
        var report = new IgmpV3Report([new(IgmpRecordType.AllowNewSources, G, [S1])]);
        var buffer = Hex.Filled(IgmpV3Datagram.ReportLength(report) + 2);
        int length = IgmpV3Datagram.WriteReport(buffer, 0, report);
        Assert.Equal(44, length);
        Assert.Equal(0xff, buffer[44]);
        Assert.True(Ipv4Header.TryRead(buffer, out var ip, out var error), error.ToString());
        Assert.Equal(24, ip.HeaderLength);
        Assert.True(ip.HasRouterAlert);
        Assert.Equal(0xc0, ip.Tos);
        Assert.Equal(1, ip.Ttl);
        Assert.Equal(2, ip.Protocol);
        Assert.Equal(0xe0000016u, ip.Destination);
        Assert.True(IgmpV3Datagram.TryReadReport(buffer.AsSpan(0, length), out var read, out error), error.ToString());
        Assert.Equal(report, read);
    }

    [Fact]
    public void Error_inside_the_igmp_message_is_reported_at_its_offset_in_the_datagram()
    {
        var report = new IgmpV3Report([new(IgmpRecordType.AllowNewSources, G, [S1])]);
        var bytes = new byte[IgmpV3Datagram.ReportLength(report)];
        IgmpV3Datagram.WriteReport(bytes, 0, report);
        bytes[^1] ^= 1;
        Assert.False(IgmpV3Datagram.TryReadReport(bytes, out _, out var error));
        Assert.Equal(ParseFailure.BadChecksum, error.Kind);
        Assert.Equal(24 + 2, error.Offset);
    }

    [Fact]
    public void Query_datagram_that_is_not_igmp_is_unsupported()
    {
        var packet = new byte[32];
        new Ipv4HeaderBuilder { Ttl = 1, Protocol = 17 }.Write(packet, 12);
        Assert.False(IgmpV3Datagram.TryReadQuery(packet, out _, out var error));
        Assert.Equal(ParseFailure.Unsupported, error.Kind);
        Assert.Equal(9, error.Offset);
    }
}
