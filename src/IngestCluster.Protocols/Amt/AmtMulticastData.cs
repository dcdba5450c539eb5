namespace IngestCluster.Protocols.Amt;

/// <summary>
/// Multicast Data (type 6, RFC 7450 §5.1.6): a 2-byte header, then the native IP multicast datagram.
/// Static and allocation-free: this is the data path. The datagram is <c>message[HeaderLength..]</c>.
/// </summary>
public static class AmtMulticastData
{
    public const int HeaderLength = 2;

    /// <summary>The smallest datagram accepted after the header: an IPv4 header.</summary>
    public const int MinDatagramLength = 20;

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  V=0  |Type=6 |    Reserved   |                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    // ~                     IP Multicast Datagram                     ~
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    /// <summary>Checks type 6 and that at least an IPv4 header's worth of datagram follows the header.
    /// The datagram itself is checked by <see cref="Ip.Ipv4Header.TryRead"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out ParseError error)
    {
        if (!AmtMessage.TryExpectType(message, AmtMessageType.MulticastData, out error))
        {
            return false;
        }
        if (message.Length < HeaderLength + MinDatagramLength)
        {
            error = ParseError.Truncated(message.Length, "Multicast Data needs at least {0} bytes but only {1} are there", HeaderLength + MinDatagramLength, message.Length);
            return false;
        }
        return true;
    }

    /// <summary>Writes the header and copies <paramref name="ipDatagram"/> after it.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> ipDatagram)
    {
        int length = HeaderLength + ipDatagram.Length;
        AmtMessage.CheckDestination(destination, length, "Multicast Data");
        destination[0] = (byte)AmtMessageType.MulticastData;
        destination[1] = 0;
        ipDatagram.CopyTo(destination[HeaderLength..]);
        return length;
    }
}
