using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IngestCluster.Protocols.Igmp;

/// <summary>
/// An IGMPv3 Membership Query (type 0x11, RFC 3376 §4.1): general (group 0.0.0.0), group-specific, or
/// group-and-source-specific (with sources). The IGMP message only; see <see cref="IgmpV3Datagram"/> for it
/// inside its IP header. Equality compares the sources by content.
/// </summary>
public sealed record IgmpV3Query(byte MaxRespCode, IPAddress Group, bool SuppressRouterSideProcessing, byte Qrv,
    byte Qqic, IReadOnlyList<IPAddress> Sources)
{
    public const byte MessageType = 0x11;

    /// <summary>The largest value a code can stand for: mantissa 15, exponent 7.</summary>
    public const int MaxCodeValue = 31744;

    private const int MinLength = 12;
    private const int IgmpV2QueryLength = 8;
    private const int TypeOffset = 0;
    private const int MaxRespCodeOffset = 1;
    private const int ChecksumOffset = 2;
    private const int GroupOffset = 4;
    private const int FlagsOffset = 8;
    private const int QqicOffset = 9;
    private const int SourceCountOffset = 10;
    private const int SourcesOffset = 12;
    private const byte SFlag = 0x08;
    private const byte QrvMask = 0x07;
    private const int FloatThreshold = 128;

    /// <summary>Max Resp Code decoded: units of 0.1 s.</summary>
    public TimeSpan MaxResponseTime => TimeSpan.FromMilliseconds(DecodeCode(MaxRespCode) * 100L);

    /// <summary>QQIC decoded: seconds.</summary>
    public TimeSpan QueryInterval => TimeSpan.FromSeconds(DecodeCode(Qqic));

    public bool IsGeneral => Group.Equals(IPAddress.Any);

    public int Length => SourcesOffset + (Sources.Count * IgmpWire.AddressLength);

    /// <summary>Max Resp Code and QQIC (RFC 3376 §4.1.1, §4.1.7): literal below 128; from 128 up
    /// <c>1 | exp(3) | mant(4)</c> stands for <c>(mant | 0x10) &lt;&lt; (exp + 3)</c>.</summary>
    public static int DecodeCode(byte code)
    {
        if (code < FloatThreshold)
        {
            return code;
        }
        int exp = (code >> 4) & 0x07;
        int mant = code & 0x0F;
        return (mant | 0x10) << (exp + 3);
    }

    /// <summary>The code for <paramref name="value"/> (in the field's units): literal below 128; above, the largest
    /// representable value not more than <paramref name="value"/> (so a host answers no later, a querier asks no
    /// later, than asked), capped at <see cref="MaxCodeValue"/>.</summary>
    public static byte EncodeCode(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        if (value < FloatThreshold)
        {
            return (byte)value;
        }
        value = Math.Min(value, MaxCodeValue);
        // value >= 128 = 0x10 << 3: find the exponent that puts value >> (exp + 3) in [16, 31].
        int exp = 0;
        while ((value >> (exp + 3)) > 0x1F)
        {
            exp++;
        }
        int mant = (value >> (exp + 3)) & 0x0F;
        return (byte)(0x80 | (exp << 4) | mant);
    }

    /// <summary>Max Resp Code for a time, in 0.1 s units, rounded down.</summary>
    public static byte EncodeMaxResponseTime(TimeSpan time) =>
        EncodeCode((int)Math.Min(time.Ticks / (TimeSpan.TicksPerMillisecond * 100), MaxCodeValue));

    /// <summary>QQIC for an interval, in seconds, rounded down.</summary>
    public static byte EncodeQueryInterval(TimeSpan interval) =>
        EncodeCode((int)Math.Min(interval.Ticks / TimeSpan.TicksPerSecond, MaxCodeValue));

    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  Type = 0x11  | Max Resp Code |           Checksum            |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                         Group Address                         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // | Resv  |S| QRV |     QQIC      |     Number of Sources (N)     |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                       Source Address [1..N]                   |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// <summary>Reads a query; the checksum covers all of <paramref name="message"/> (the IP payload), and bytes
    /// after the sources are allowed (RFC 3376 §4.1.10).</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, [NotNullWhen(true)] out IgmpV3Query? query, out ParseError error)
    {
        query = null;
        if (message.Length >= 1 && message[TypeOffset] != MessageType)
        {
            error = ParseError.BadValue(TypeOffset, "IGMP type is 0x{0:x2}, not a query (0x11)", message[TypeOffset]);
            return false;
        }
        if (message.Length < MinLength)
        {
            error = message.Length == IgmpV2QueryLength
                ? ParseError.Unsupported(0, "an 8-byte IGMP query is IGMPv1 or v2, not v3")
                : ParseError.Truncated(message.Length, "IGMPv3 query needs {0} bytes but only {1} are there", MinLength, message.Length);
            return false;
        }
        if (!InternetChecksum.Verify(message))
        {
            error = ParseError.BadChecksum(ChecksumOffset, "IGMP checksum 0x{0:x4} does not verify over {1} bytes",
                BinaryPrimitives.ReadUInt16BigEndian(message[ChecksumOffset..]), message.Length);
            return false;
        }
        int count = BinaryPrimitives.ReadUInt16BigEndian(message[SourceCountOffset..]);
        if (SourcesOffset + (count * IgmpWire.AddressLength) > message.Length)
        {
            error = ParseError.LengthMismatch(SourceCountOffset, "IGMPv3 query claims {0} sources but only {1} bytes follow", count, message.Length - SourcesOffset);
            return false;
        }
        byte flags = message[FlagsOffset];
        query = new IgmpV3Query(
            message[MaxRespCodeOffset],
            new IPAddress(message.Slice(GroupOffset, IgmpWire.AddressLength)),
            (flags & SFlag) != 0,
            (byte)(flags & QrvMask),
            message[QqicOffset],
            IgmpWire.ReadAddresses(message[SourcesOffset..], count));
        error = default;
        return true;
    }

    /// <summary>Writes the query with its checksum.</summary>
    public int Write(Span<byte> destination)
    {
        IgmpWire.CheckIpv4(Group, nameof(Group));
        ArgumentNullException.ThrowIfNull(Sources);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Qrv, QrvMask, nameof(Qrv));
        if (Sources.Count > ushort.MaxValue)
        {
            throw new ArgumentException($"{Sources.Count} sources do not fit a 16-bit count", nameof(Sources));
        }
        foreach (var source in Sources)
        {
            IgmpWire.CheckIpv4(source, nameof(Sources));
        }
        int length = Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"the IGMPv3 query needs {length} bytes, the destination has {destination.Length}", nameof(destination));
        }
        var m = destination[..length];
        m[TypeOffset] = MessageType;
        m[MaxRespCodeOffset] = MaxRespCode;
        BinaryPrimitives.WriteUInt16BigEndian(m[ChecksumOffset..], 0);
        IgmpWire.WriteAddress(m[GroupOffset..], Group);
        m[FlagsOffset] = (byte)((SuppressRouterSideProcessing ? SFlag : 0) | Qrv);
        m[QqicOffset] = Qqic;
        BinaryPrimitives.WriteUInt16BigEndian(m[SourceCountOffset..], (ushort)Sources.Count);
        int at = SourcesOffset;
        foreach (var source in Sources)
        {
            IgmpWire.WriteAddress(m[at..], source);
            at += IgmpWire.AddressLength;
        }
        BinaryPrimitives.WriteUInt16BigEndian(m[ChecksumOffset..], InternetChecksum.Compute(m));
        return length;
    }

    public bool Equals(IgmpV3Query? other) =>
        other is not null && MaxRespCode == other.MaxRespCode && Group.Equals(other.Group) &&
        SuppressRouterSideProcessing == other.SuppressRouterSideProcessing && Qrv == other.Qrv && Qqic == other.Qqic &&
        IgmpWire.SequenceEqual(Sources, other.Sources);

    public override int GetHashCode() => HashCode.Combine(MaxRespCode, Group, Qrv, Qqic, IgmpWire.HashOf(Sources));
}
