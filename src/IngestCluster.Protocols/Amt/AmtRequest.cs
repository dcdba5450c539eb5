using System.Buffers.Binary;

namespace IngestCluster.Protocols.Amt;

/// <summary>Request (type 3, RFC 7450 §5.1.3): the gateway asks the relay for a Membership Query.
/// P = 0 asks for an IGMPv3 query, P = 1 for an MLDv2 query.</summary>
public readonly record struct AmtRequest(uint Nonce, bool MldRequested)
{
    private const int FlagsOffset = 1;
    private const int NonceOffset = 4;
    private const int MessageLength = 8;
    private const byte PFlag = 0x01;

    public int Length => MessageLength;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=3 |  Reserved   |P|            Reserved           |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                         Request Nonce                         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    public static bool TryRead(ReadOnlySpan<byte> message, out AmtRequest request, out ParseError error)
    {
        request = default;
        if (!AmtMessage.TryExpectType(message, AmtMessageType.Request, out error) ||
            !AmtMessage.TryExpectLength(message, MessageLength, AmtMessageType.Request, out error))
        {
            return false;
        }
        request = new AmtRequest(BinaryPrimitives.ReadUInt32BigEndian(message[NonceOffset..]), (message[FlagsOffset] & PFlag) != 0);
        return true;
    }

    public int Write(Span<byte> destination)
    {
        AmtMessage.CheckDestination(destination, MessageLength, "Request");
        destination[0] = (byte)AmtMessageType.Request;
        destination[FlagsOffset] = MldRequested ? PFlag : (byte)0;
        destination[(FlagsOffset + 1)..NonceOffset].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination[NonceOffset..], Nonce);
        return MessageLength;
    }
}
