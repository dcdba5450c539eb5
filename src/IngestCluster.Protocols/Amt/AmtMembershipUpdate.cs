using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace IngestCluster.Protocols.Amt;

/// <summary>
/// Membership Update (type 5, RFC 7450 §5.1.5): the gateway's IGMPv3 report (or MLDv2 report), as a whole IP
/// datagram, with the Response MAC and nonce of the latest Membership Query.
/// </summary>
public sealed record AmtMembershipUpdate(ulong ResponseMac, uint Nonce, ReadOnlyMemory<byte> EncapsulatedReport)
{
    private const int MacOffset = 2;
    private const int NonceOffset = 8;
    private const int ReportOffset = 12;

    /// <summary>The smallest encapsulated datagram accepted: an IPv4 header.</summary>
    public const int MinEncapsulatedLength = 20;

    public int Length => ReportOffset + EncapsulatedReport.Length;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=5 |  Reserved     |        Response MAC           |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    // |                                                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                         Request Nonce                         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |         Encapsulated Group Membership Update Message          |
    // ~           IPv4:IGMP(Membership Report)|IPv6:MLD(Report)       ~
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out AmtMembershipUpdate? update, out ParseError error)
    {
        update = null;
        if (!AmtMessage.TryExpectType(message, AmtMessageType.MembershipUpdate, out error))
        {
            return false;
        }
        if (message.Length < ReportOffset + MinEncapsulatedLength)
        {
            error = ParseError.Truncated(message.Length, "Membership Update needs at least {0} bytes but only {1} are there", ReportOffset + MinEncapsulatedLength, message.Length);
            return false;
        }
        update = new AmtMembershipUpdate(
            AmtWire.ReadMac(message[MacOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(message[NonceOffset..]),
            message[ReportOffset..].ToArray());
        return true;
    }

    public int Write(Span<byte> destination)
    {
        AmtWire.CheckMac(ResponseMac, nameof(ResponseMac));
        if (EncapsulatedReport.Length < MinEncapsulatedLength)
        {
            throw new ArgumentException($"the encapsulated report is {EncapsulatedReport.Length} bytes, less than an IPv4 header", nameof(EncapsulatedReport));
        }
        int length = Length;
        AmtMessage.CheckDestination(destination, length, "Membership Update");
        destination[0] = (byte)AmtMessageType.MembershipUpdate;
        destination[1] = 0;
        AmtWire.WriteMac(destination[MacOffset..], ResponseMac);
        BinaryPrimitives.WriteUInt32BigEndian(destination[NonceOffset..], Nonce);
        EncapsulatedReport.Span.CopyTo(destination[ReportOffset..]);
        return length;
    }
}
