using System.Diagnostics.CodeAnalysis;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Igmp;

/// <summary>
/// IGMPv3 with its IP header: the datagram that an AMT Membership Update carries (IHL 6 with Router Alert,
/// TOS 0xC0, TTL 1, protocol 2, to 224.0.0.22, RFC 3376 §4), and the query inside an AMT Membership Query (read
/// with IHL 5 or 6: relays differ).
/// </summary>
public static class IgmpV3Datagram
{
    public const byte IgmpProtocol = 2;

    /// <summary>224.0.0.22, all IGMPv3-capable routers.</summary>
    public const uint AllIgmpV3Routers = 0xE0000016;

    /// <summary>Internetwork control precedence, as RFC 3376 §4 and every querier use.</summary>
    public const byte InternetworkControlTos = 0xC0;

    private static Ipv4HeaderBuilder ReportHeader(uint sourceAddress) => new()
    {
        Tos = InternetworkControlTos,
        Ttl = 1,
        Protocol = IgmpProtocol,
        RouterAlert = true,
        Source = sourceAddress,
        Destination = AllIgmpV3Routers,
    };

    public static int ReportLength(IgmpV3Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return ReportHeader(0).Length + report.Length;
    }

    /// <summary>Writes IP header + report. <paramref name="sourceAddress"/> is network order; 0 (0.0.0.0) is
    /// what gateways send inside AMT.</summary>
    public static int WriteReport(Span<byte> destination, uint sourceAddress, IgmpV3Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var header = ReportHeader(sourceAddress);
        int reportLength = report.Length;
        int length = header.Length + reportLength;
        if (destination.Length < length)
        {
            throw new ArgumentException($"the IGMPv3 report datagram needs {length} bytes, the destination has {destination.Length}", nameof(destination));
        }
        report.Write(destination[header.Length..]);
        header.Write(destination, reportLength);
        return length;
    }

    public static bool TryReadQuery(ReadOnlySpan<byte> ipDatagram, [NotNullWhen(true)] out IgmpV3Query? query, out ParseError error)
    {
        query = null;
        if (!TryReadIgmp(ipDatagram, out var igmp, out int offset, out error))
        {
            return false;
        }
        if (!IgmpV3Query.TryRead(igmp, out query, out error))
        {
            error = error.Shift(offset);
            return false;
        }
        return true;
    }

    public static bool TryReadReport(ReadOnlySpan<byte> ipDatagram, [NotNullWhen(true)] out IgmpV3Report? report, out ParseError error)
    {
        report = null;
        if (!TryReadIgmp(ipDatagram, out var igmp, out int offset, out error))
        {
            return false;
        }
        if (!IgmpV3Report.TryRead(igmp, out report, out error))
        {
            error = error.Shift(offset);
            return false;
        }
        return true;
    }

    private static bool TryReadIgmp(ReadOnlySpan<byte> ipDatagram, out ReadOnlySpan<byte> igmp, out int offset, out ParseError error)
    {
        igmp = default;
        offset = 0;
        if (!Ipv4Header.TryRead(ipDatagram, out var header, out error))
        {
            return false;
        }
        if (header.Protocol != IgmpProtocol)
        {
            error = ParseError.Unsupported(Ipv4Header.ProtocolOffset, "IP protocol is {0}, not IGMP (2)", header.Protocol);
            return false;
        }
        if (header.IsFragment)
        {
            error = ParseError.Unsupported(Ipv4Header.FlagsFragmentOffset, "IGMP datagram is a fragment (flags/offset 0x{0:x4})", header.FlagsAndFragmentOffset);
            return false;
        }
        offset = header.HeaderLength;
        igmp = ipDatagram[offset..header.TotalLength];
        return true;
    }
}
