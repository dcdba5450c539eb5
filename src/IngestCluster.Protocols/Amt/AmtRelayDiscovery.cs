using System.Buffers.Binary;

namespace IngestCluster.Protocols.Amt;

/// <summary>Relay Discovery (type 1, RFC 7450 §5.1.1): the gateway asks for a relay, with a nonce.</summary>
public readonly record struct AmtRelayDiscovery(uint Nonce)
{
    private const int NonceOffset = 4;
    private const int MessageLength = 8;

    public int Length => MessageLength;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=1 |                   Reserved                    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                        Discovery Nonce                        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    public static bool TryRead(ReadOnlySpan<byte> message, out AmtRelayDiscovery discovery, out ParseError error)
    {
        discovery = default;
        if (!AmtMessage.TryExpectType(message, AmtMessageType.RelayDiscovery, out error) ||
            !AmtMessage.TryExpectLength(message, MessageLength, AmtMessageType.RelayDiscovery, out error))
        {
            return false;
        }
        discovery = new AmtRelayDiscovery(BinaryPrimitives.ReadUInt32BigEndian(message[NonceOffset..]));
        return true;
    }

    public int Write(Span<byte> destination)
    {
        AmtMessage.CheckDestination(destination, MessageLength, "Relay Discovery");
        destination[0] = (byte)AmtMessageType.RelayDiscovery;
        destination[1..NonceOffset].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination[NonceOffset..], Nonce);
        return MessageLength;
    }
}
