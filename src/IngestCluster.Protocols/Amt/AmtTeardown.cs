using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IngestCluster.Protocols.Amt;

/// <summary>
/// Teardown (type 7, RFC 7450 §5.1.7): after a NAT rebinding, asks the relay to drop the tunnel state of the
/// gateway's old address and port (as a G = 1 query reported them). IPv4 addresses are sent as 12 zero bytes
/// followed by the address.
/// </summary>
public sealed record AmtTeardown(ulong ResponseMac, uint Nonce, ushort GatewayPort, IPAddress GatewayAddress)
{
    private const int MacOffset = 2;
    private const int NonceOffset = 8;
    private const int PortOffset = 12;
    private const int AddressOffset = 14;
    private const int MessageLength = AddressOffset + AmtWire.GatewayAddressLength;

    public int Length => MessageLength;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=7 |  Reserved     |        Response MAC           |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    // |                                                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                         Request Nonce                         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |     Gateway Port Number       |                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    // |              Gateway IP Address (IPv4 or IPv6), 16 bytes      |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out AmtTeardown? teardown, out ParseError error)
    {
        teardown = null;
        if (!AmtMessage.TryExpectType(message, AmtMessageType.Teardown, out error) ||
            !AmtMessage.TryExpectLength(message, MessageLength, AmtMessageType.Teardown, out error))
        {
            return false;
        }
        teardown = new AmtTeardown(
            AmtWire.ReadMac(message[MacOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(message[NonceOffset..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[PortOffset..]),
            AmtWire.ReadGatewayAddress(message[AddressOffset..]));
        return true;
    }

    public int Write(Span<byte> destination)
    {
        AmtWire.CheckMac(ResponseMac, nameof(ResponseMac));
        AmtWire.CheckAddress(GatewayAddress, nameof(GatewayAddress));
        AmtMessage.CheckDestination(destination, MessageLength, "Teardown");
        destination[0] = (byte)AmtMessageType.Teardown;
        destination[1] = 0;
        AmtWire.WriteMac(destination[MacOffset..], ResponseMac);
        BinaryPrimitives.WriteUInt32BigEndian(destination[NonceOffset..], Nonce);
        BinaryPrimitives.WriteUInt16BigEndian(destination[PortOffset..], GatewayPort);
        AmtWire.WriteGatewayAddress(destination[AddressOffset..], GatewayAddress);
        return MessageLength;
    }
}
