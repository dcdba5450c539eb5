using System.Buffers.Binary;

namespace IngestCluster.Protocols.Ip;

/// <summary>
/// Builds an IPv4 header with its checksum. With <see cref="RouterAlert"/> the header carries the Router Alert
/// option <c>94 04 00 00</c> (RFC 2113) and is 24 bytes (IHL 6); otherwise 20 bytes. Addresses are
/// network-order values as in <see cref="Ipv4Header"/>.
/// </summary>
public struct Ipv4HeaderBuilder
{
    public byte Tos;
    public byte Ttl;
    public byte Protocol;
    public ushort Identification;
    public bool DontFragment;
    public bool RouterAlert;
    public uint Source;
    public uint Destination;

    private const int RouterAlertLength = 4;
    private const ushort DontFragmentFlag = 0x4000;

    /// <summary>20, or 24 with the Router Alert option.</summary>
    public readonly int Length => Ipv4Header.MinLength + (RouterAlert ? RouterAlertLength : 0);

    /// <summary>Writes the header only; Total Length is <see cref="Length"/> + <paramref name="payloadLength"/>.</summary>
    /// <returns>The bytes written, <see cref="Length"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The payload makes the datagram longer than 65,535 bytes.</exception>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="Length"/>.</exception>
    public readonly int Write(Span<byte> destination, int payloadLength)
    {
        int length = Length;
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadLength, ushort.MaxValue - length);
        if (destination.Length < length)
        {
            throw new ArgumentException($"the IPv4 header needs {length} bytes, the destination has {destination.Length}", nameof(destination));
        }
        var h = destination[..length];
        h[Ipv4Header.VersionIhlOffset] = (byte)(0x40 | (length / 4));
        h[Ipv4Header.TosOffset] = Tos;
        BinaryPrimitives.WriteUInt16BigEndian(h[Ipv4Header.TotalLengthOffset..], (ushort)(length + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(h[Ipv4Header.IdentificationOffset..], Identification);
        BinaryPrimitives.WriteUInt16BigEndian(h[Ipv4Header.FlagsFragmentOffset..], DontFragment ? DontFragmentFlag : (ushort)0);
        h[Ipv4Header.TtlOffset] = Ttl;
        h[Ipv4Header.ProtocolOffset] = Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(h[Ipv4Header.ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(h[Ipv4Header.SourceOffset..], Source);
        BinaryPrimitives.WriteUInt32BigEndian(h[Ipv4Header.DestinationOffset..], Destination);
        if (RouterAlert)
        {
            h[Ipv4Header.OptionsOffset] = Ipv4Header.RouterAlertOptionType;
            h[Ipv4Header.OptionsOffset + 1] = RouterAlertLength;
            h[Ipv4Header.OptionsOffset + 2] = 0;
            h[Ipv4Header.OptionsOffset + 3] = 0;
        }
        BinaryPrimitives.WriteUInt16BigEndian(h[Ipv4Header.ChecksumOffset..], InternetChecksum.Compute(h));
        return length;
    }
}
