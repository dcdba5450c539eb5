using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Protocols.Amt;

/// <summary>Relay Advertisement (type 2, RFC 7450 §5.1.2): the discovery nonce echoed and the relay's
/// address, 4 bytes for IPv4 or 16 for IPv6 (the message length tells which).</summary>
public sealed record AmtRelayAdvertisement(uint Nonce, IPAddress RelayAddress)
{
    private const int NonceOffset = 4;
    private const int RelayAddressOffset = 8;
    private const int Ipv4Length = RelayAddressOffset + 4;
    private const int Ipv6Length = RelayAddressOffset + 16;

    public int Length => RelayAddress.AddressFamily == AddressFamily.InterNetworkV6 ? Ipv6Length : Ipv4Length;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=2 |                   Reserved                    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                        Discovery Nonce                        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // ~                  Relay Address (IPv4 or IPv6)                 ~
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    public static bool TryRead(ReadOnlySpan<byte> message, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AmtRelayAdvertisement? advertisement, out ParseError error)
    {
        advertisement = null;
        if (!AmtMessage.TryExpectType(message, AmtMessageType.RelayAdvertisement, out error))
        {
            return false;
        }
        if (message.Length is not (Ipv4Length or Ipv6Length))
        {
            error = message.Length < Ipv4Length
                ? ParseError.Truncated(message.Length, "Relay Advertisement needs {0} bytes but only {1} are there", Ipv4Length, message.Length)
                : ParseError.LengthMismatch(RelayAddressOffset, "Relay Advertisement leaves {0} bytes for the relay address; expected 4 or 16", message.Length - RelayAddressOffset);
            return false;
        }
        advertisement = new AmtRelayAdvertisement(
            BinaryPrimitives.ReadUInt32BigEndian(message[NonceOffset..]),
            new IPAddress(message[RelayAddressOffset..]));
        return true;
    }

    public int Write(Span<byte> destination)
    {
        AmtWire.CheckAddress(RelayAddress, nameof(RelayAddress));
        int length = Length;
        AmtMessage.CheckDestination(destination, length, "Relay Advertisement");
        destination[0] = (byte)AmtMessageType.RelayAdvertisement;
        destination[1..NonceOffset].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination[NonceOffset..], Nonce);
        RelayAddress.TryWriteBytes(destination[RelayAddressOffset..length], out _);
        return length;
    }
}
