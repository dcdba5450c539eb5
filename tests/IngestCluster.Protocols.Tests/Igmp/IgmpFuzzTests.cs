using IngestCluster.Protocols.Igmp;

namespace IngestCluster.Protocols.Tests.Igmp;

public class IgmpFuzzTests
{
    private static byte[] Bytes(int length, Func<Span<byte>, int> write)
    {
        var buffer = new byte[length];
        write(buffer);
        return buffer;
    }

    [Fact]
    public void Query_reader_survives_mutated_queries() =>
        Fuzz.Run("IgmpV3Query", CapturedMessages.IgmpMessages(IgmpV3Query.MessageType), (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!IgmpV3Query.TryRead(input, out var q, out error))
            {
                return false;
            }
            Assert.True(IgmpV3Query.TryRead(Bytes(q.Length, q.Write), out var again, out _));
            Assert.Equal(q, again);
            return true;
        }, b => Fuzz.FixIgmpChecksum(b, 0, b.Length));

    [Fact]
    public void Report_reader_survives_mutated_reports()
    {
        var withAux = new IgmpV3Report(
        [
            new(IgmpRecordType.ModeIsInclude, System.Net.IPAddress.Parse("232.1.1.1"), [System.Net.IPAddress.Parse("10.78.0.2")]) { AuxiliaryData = new byte[8] },
            new(IgmpRecordType.BlockOldSources, System.Net.IPAddress.Parse("232.1.1.2"), [System.Net.IPAddress.Parse("10.78.0.3")]),
        ]);
        Fuzz.Run("IgmpV3Report", [.. CapturedMessages.IgmpMessages(IgmpV3Report.MessageType), Bytes(withAux.Length, withAux.Write)],
            (ReadOnlySpan<byte> input, out ParseError error) =>
            {
                if (!IgmpV3Report.TryRead(input, out var r, out error))
                {
                    return false;
                }
                Assert.True(IgmpV3Report.TryRead(Bytes(r.Length, r.Write), out var again, out _));
                Assert.Equal(r, again);
                return true;
            }, b => Fuzz.FixIgmpChecksum(b, 0, b.Length));
    }

    [Fact]
    public void Datagram_query_reader_survives_mutated_datagrams() =>
        Fuzz.Run("IgmpV3Datagram.TryReadQuery",
            CapturedMessages.IgmpDatagrams.Where(d => Pcap.Ipv4Payload(d).Payload[0] == IgmpV3Query.MessageType).ToList(),
            (ReadOnlySpan<byte> input, out ParseError error) => IgmpV3Datagram.TryReadQuery(input, out _, out error),
            Fuzz.FixIgmpDatagramChecksums);

    [Fact]
    public void Datagram_report_reader_survives_mutated_datagrams() =>
        Fuzz.Run("IgmpV3Datagram.TryReadReport",
            CapturedMessages.IgmpDatagrams.Where(d => Pcap.Ipv4Payload(d).Payload[0] == IgmpV3Report.MessageType).ToList(),
            (ReadOnlySpan<byte> input, out ParseError error) =>
            {
                if (!IgmpV3Datagram.TryReadReport(input, out var r, out error))
                {
                    return false;
                }
                Assert.True(IgmpV3Datagram.TryReadReport(Bytes(IgmpV3Datagram.ReportLength(r), d => IgmpV3Datagram.WriteReport(d, 0, r)), out var again, out _));
                Assert.Equal(r, again);
                return true;
            }, Fuzz.FixIgmpDatagramChecksums);
}
