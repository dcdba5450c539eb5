using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Protocols.Ip;

/// <summary>
/// A validated IPv4 header (RFC 791), read without allocation. Addresses are <see cref="uint"/> values in
/// network order (0x0A000001 is 10.0.0.1), so the data path never builds an <see cref="IPAddress"/>.
/// </summary>
public readonly struct Ipv4Header
{
    public const int MinLength = 20;

    /// <summary>The largest header: IHL 15.</summary>
    public const int MaxLength = 60;

    /// <summary>IP option 148 (copied, class 0, number 20), RFC 2113: type, length 4, value 0.</summary>
    public const byte RouterAlertOptionType = 0x94;

    internal const int VersionIhlOffset = 0;
    internal const int TosOffset = 1;
    internal const int TotalLengthOffset = 2;
    internal const int IdentificationOffset = 4;
    internal const int FlagsFragmentOffset = 6;
    internal const int TtlOffset = 8;
    internal const int ProtocolOffset = 9;
    internal const int ChecksumOffset = 10;
    internal const int SourceOffset = 12;
    internal const int DestinationOffset = 16;
    internal const int OptionsOffset = 20;

    private const ushort MoreFragmentsFlag = 0x2000;
    private const ushort DontFragmentFlag = 0x4000;
    private const ushort FragmentOffsetMask = 0x1FFF;
    private const byte OptionEndOfList = 0;
    private const byte OptionNoOperation = 1;

    private Ipv4Header(ReadOnlySpan<byte> h, int headerLength, int totalLength, bool routerAlert)
    {
        HeaderLength = headerLength;
        TotalLength = totalLength;
        Tos = h[TosOffset];
        Identification = BinaryPrimitives.ReadUInt16BigEndian(h[IdentificationOffset..]);
        FlagsAndFragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(h[FlagsFragmentOffset..]);
        Ttl = h[TtlOffset];
        Protocol = h[ProtocolOffset];
        Checksum = BinaryPrimitives.ReadUInt16BigEndian(h[ChecksumOffset..]);
        Source = BinaryPrimitives.ReadUInt32BigEndian(h[SourceOffset..]);
        Destination = BinaryPrimitives.ReadUInt32BigEndian(h[DestinationOffset..]);
        HasRouterAlert = routerAlert;
    }

    /// <summary>IHL × 4, options included.</summary>
    public int HeaderLength { get; }

    public int TotalLength { get; }

    /// <summary>TotalLength − HeaderLength: the bytes after the header.</summary>
    public int PayloadLength => TotalLength - HeaderLength;

    public byte Tos { get; }

    public ushort Identification { get; }

    /// <summary>The raw 16-bit word: flags (3 bits) and fragment offset (13 bits, in 8-byte units).</summary>
    public ushort FlagsAndFragmentOffset { get; }

    public bool DontFragment => (FlagsAndFragmentOffset & DontFragmentFlag) != 0;

    /// <summary>More Fragments is set, or the fragment offset is not zero.</summary>
    public bool IsFragment => (FlagsAndFragmentOffset & (MoreFragmentsFlag | FragmentOffsetMask)) != 0;

    public byte Ttl { get; }

    public byte Protocol { get; }

    public ushort Checksum { get; }

    public uint Source { get; }

    public uint Destination { get; }

    /// <summary>The options carry a Router Alert (RFC 2113).</summary>
    public bool HasRouterAlert { get; }

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |Version|  IHL  |Type of Service|          Total Length         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |         Identification        |Flags|      Fragment Offset    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  Time to Live |    Protocol   |         Header Checksum       |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                       Source Address                          |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Destination Address                        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Options                    |    Padding    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    /// <summary>
    /// Reads and checks the header at the start of <paramref name="packet"/>: version 4, IHL ≥ 5,
    /// IHL × 4 ≤ Total Length ≤ packet length, well-formed options, and the header checksum.
    /// Bytes after Total Length (link padding) are allowed.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out Ipv4Header header, out ParseError error)
    {
        header = default;
        if (packet.Length < MinLength)
        {
            error = ParseError.Truncated(packet.Length, "IPv4 header needs {0} bytes but only {1} are there", MinLength, packet.Length);
            return false;
        }
        int version = packet[VersionIhlOffset] >> 4;
        if (version != 4)
        {
            error = ParseError.BadVersion(VersionIhlOffset, "IP version is {0}, not 4", version);
            return false;
        }
        int headerLength = (packet[VersionIhlOffset] & 0x0F) * 4;
        if (headerLength < MinLength)
        {
            error = ParseError.BadValue(VersionIhlOffset, "IHL is {0} words, less than the minimum 5", headerLength / 4);
            return false;
        }
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[TotalLengthOffset..]);
        if (totalLength < headerLength)
        {
            error = ParseError.LengthMismatch(TotalLengthOffset, "Total Length {0} is less than the header length {1}", totalLength, headerLength);
            return false;
        }
        if (totalLength > packet.Length)
        {
            error = ParseError.Truncated(TotalLengthOffset, "Total Length {0} but only {1} bytes are there", totalLength, packet.Length);
            return false;
        }
        var h = packet[..headerLength];
        if (!InternetChecksum.Verify(h))
        {
            error = ParseError.BadChecksum(ChecksumOffset, "IPv4 header checksum 0x{0:x4} does not verify (sum 0x{1:x4})",
                BinaryPrimitives.ReadUInt16BigEndian(h[ChecksumOffset..]), InternetChecksum.Sum(h));
            return false;
        }
        bool routerAlert = false;
        if (headerLength > MinLength && !TryReadOptions(h, out routerAlert, out error))
        {
            return false;
        }
        header = new Ipv4Header(h, headerLength, totalLength, routerAlert);
        error = default;
        return true;
    }

    // Options: single-byte End of List (0) and No Operation (1); every other option is type, length (≥ 2,
    // counting type and length), value.
    private static bool TryReadOptions(ReadOnlySpan<byte> header, out bool routerAlert, out ParseError error)
    {
        routerAlert = false;
        int at = OptionsOffset;
        while (at < header.Length)
        {
            byte type = header[at];
            if (type == OptionEndOfList)
            {
                break;
            }
            if (type == OptionNoOperation)
            {
                at++;
                continue;
            }
            if (at + 1 >= header.Length)
            {
                error = ParseError.Truncated(at, "IPv4 option type {0} has no length byte before the header ends", type);
                return false;
            }
            int length = header[at + 1];
            if (length < 2 || at + length > header.Length)
            {
                error = ParseError.LengthMismatch(at + 1, "IPv4 option type {0} claims {1} bytes but {2} remain in the header", type, length, header.Length - at);
                return false;
            }
            if (type == RouterAlertOptionType && length == 4)
            {
                routerAlert = true;
            }
            at += length;
        }
        error = default;
        return true;
    }

    /// <summary>
    /// Decrements the TTL in place and fixes the header checksum incrementally (RFC 1624, eqn. 3).
    /// Returns false, and changes nothing, when the TTL is 0 or 1 (the packet must not be forwarded) or the
    /// span is shorter than a header. Does not verify the header: call <see cref="TryRead"/> first.
    /// </summary>
    public static bool TryDecrementTtl(Span<byte> packet)
    {
        if (packet.Length < MinLength)
        {
            return false;
        }
        byte ttl = packet[TtlOffset];
        if (ttl <= 1)
        {
            return false;
        }
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(packet[TtlOffset..]);
        ushort newWord = (ushort)(oldWord - 0x0100);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(packet[ChecksumOffset..]);
        packet[TtlOffset] = (byte)(ttl - 1);
        BinaryPrimitives.WriteUInt16BigEndian(packet[ChecksumOffset..], InternetChecksum.Update(checksum, oldWord, newWord));
        return true;
    }

    /// <summary>An <see cref="IPAddress"/> for a network-order value (0x0A000001 → 10.0.0.1).</summary>
    public static IPAddress ToAddress(uint address)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        return new IPAddress(bytes);
    }

    /// <summary>The network-order value of an IPv4 address (10.0.0.1 → 0x0A000001).</summary>
    /// <exception cref="ArgumentException">The address is not IPv4.</exception>
    public static uint FromAddress(IPAddress v4)
    {
        ArgumentNullException.ThrowIfNull(v4);
        if (v4.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"{v4} is not an IPv4 address", nameof(v4));
        }
        Span<byte> bytes = stackalloc byte[4];
        v4.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }
}
