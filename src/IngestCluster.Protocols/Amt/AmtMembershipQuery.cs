using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IngestCluster.Protocols.Amt;

/// <summary>
/// Membership Query (type 4, RFC 7450 §5.1.4): the relay's answer to a Request. Carries the Response MAC and the
/// echoed request nonce that the gateway's next Updates must repeat, and the whole IP datagram of an IGMPv3 (or
/// MLDv2) general query. L = 1: the relay is at capacity. G = 1: the gateway's address and port as the relay saw
/// them follow the query (<see cref="GatewayPort"/> and <see cref="GatewayAddress"/> are then both set).
/// </summary>
public sealed record AmtMembershipQuery(
    bool LimitedCapacity,
    ulong ResponseMac,
    uint Nonce,
    ReadOnlyMemory<byte> EncapsulatedQuery,
    ushort? GatewayPort,
    IPAddress? GatewayAddress)
{
    private const int FlagsOffset = 1;
    private const int MacOffset = 2;
    private const int NonceOffset = 8;
    private const int QueryOffset = 12;
    private const int GatewayFieldsLength = 2 + AmtWire.GatewayAddressLength;
    private const byte LFlag = 0x02;
    private const byte GFlag = 0x01;

    /// <summary>The smallest encapsulated datagram accepted: an IPv4 header.</summary>
    public const int MinEncapsulatedLength = 20;

    public int Length => QueryOffset + EncapsulatedQuery.Length + (GatewayAddress is null ? 0 : GatewayFieldsLength);

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=4 | Reserved  |L|G|         Response MAC          |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                             +
    // |                                                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                         Request Nonce                         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |               Encapsulated General Query Message              |
    // ~                 IPv4:IGMPv3(Membership Query)                 ~
    // |                  IPv6:MLDv2(Listener Query)                   |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |     Gateway Port Number       |                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    // |              Gateway IP Address (IPv4 or IPv6), 16 bytes      |  (only when G = 1)
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out AmtMembershipQuery? query, out ParseError error)
    {
        query = null;
        if (!AmtMessage.TryExpectType(message, AmtMessageType.MembershipQuery, out error))
        {
            return false;
        }
        if (message.Length < QueryOffset)
        {
            error = ParseError.Truncated(message.Length, "Membership Query needs {0} bytes before the encapsulated query but only {1} are there", QueryOffset, message.Length);
            return false;
        }
        byte flags = message[FlagsOffset];
        bool g = (flags & GFlag) != 0;
        int trailer = g ? GatewayFieldsLength : 0;
        int queryLength = message.Length - QueryOffset - trailer;
        if (queryLength < MinEncapsulatedLength)
        {
            error = ParseError.Truncated(message.Length, "Membership Query (G={0}) leaves {1} bytes for the encapsulated query; at least {2} needed", g ? 1 : 0, queryLength, MinEncapsulatedLength);
            return false;
        }
        ushort? port = null;
        IPAddress? address = null;
        if (g)
        {
            int at = QueryOffset + queryLength;
            port = BinaryPrimitives.ReadUInt16BigEndian(message[at..]);
            address = AmtWire.ReadGatewayAddress(message[(at + 2)..]);
        }
        query = new AmtMembershipQuery(
            (flags & LFlag) != 0,
            AmtWire.ReadMac(message[MacOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(message[NonceOffset..]),
            message.Slice(QueryOffset, queryLength).ToArray(),
            port,
            address);
        return true;
    }

    public int Write(Span<byte> destination)
    {
        AmtWire.CheckMac(ResponseMac, nameof(ResponseMac));
        if (GatewayPort.HasValue != (GatewayAddress is not null))
        {
            throw new ArgumentException("GatewayPort and GatewayAddress are set together (G = 1) or not at all");
        }
        if (GatewayAddress is not null)
        {
            AmtWire.CheckAddress(GatewayAddress, nameof(GatewayAddress));
        }
        if (EncapsulatedQuery.Length < MinEncapsulatedLength)
        {
            throw new ArgumentException($"the encapsulated query is {EncapsulatedQuery.Length} bytes, less than an IPv4 header", nameof(EncapsulatedQuery));
        }
        int length = Length;
        AmtMessage.CheckDestination(destination, length, "Membership Query");
        destination[0] = (byte)AmtMessageType.MembershipQuery;
        destination[FlagsOffset] = (byte)((LimitedCapacity ? LFlag : 0) | (GatewayAddress is null ? 0 : GFlag));
        AmtWire.WriteMac(destination[MacOffset..], ResponseMac);
        BinaryPrimitives.WriteUInt32BigEndian(destination[NonceOffset..], Nonce);
        EncapsulatedQuery.Span.CopyTo(destination[QueryOffset..]);
        if (GatewayAddress is not null)
        {
            int at = QueryOffset + EncapsulatedQuery.Length;
            BinaryPrimitives.WriteUInt16BigEndian(destination[at..], GatewayPort!.Value);
            AmtWire.WriteGatewayAddress(destination[(at + 2)..], GatewayAddress);
        }
        return length;
    }
}
