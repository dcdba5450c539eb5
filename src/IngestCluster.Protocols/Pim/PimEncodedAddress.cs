using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Protocols.Pim;

/// <summary>An Encoded-Group address (RFC 7761 §4.9.1): B (bidirectional) and Z (admin scope zone) flags.</summary>
public readonly record struct PimEncodedGroup(IPAddress Address, byte MaskLength, bool Bidirectional = false, bool AdminScope = false)
{
    public int Length => PimAddressEncoding.HeaderLength + 2 + PimAddressEncoding.AddressLength(Address);
}

/// <summary>An Encoded-Source address (RFC 7761 §4.9.1): S (sparse), W (wildcard) and R (RPT) flags. An SSM (S,G)
/// entry has S = 1, W = 0, R = 0 and mask length 32 (128 for IPv6).</summary>
public readonly record struct PimEncodedSource(IPAddress Address, byte MaskLength, bool Sparse = true, bool Wildcard = false, bool Rpt = false)
{
    public int Length => PimAddressEncoding.HeaderLength + 2 + PimAddressEncoding.AddressLength(Address);

    /// <summary>The (S,G) form: S set, W and R clear, a host mask.</summary>
    public static PimEncodedSource Ssm(IPAddress source) =>
        new(source, (byte)(source.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32));
}

/// <summary>
/// The address encodings of RFC 7761 §4.9.1. Every encoding starts with the address family (1 IPv4, 2 IPv6) and
/// the encoding type (0, native):
/// <code>
/// Encoded-Unicast: | Addr Family | Encoding Type | Unicast Address ...
/// Encoded-Group:   | Addr Family | Encoding Type |B| Reserved  |Z| Mask Len | Group Address ...
/// Encoded-Source:  | Addr Family | Encoding Type | Rsrvd   |S|W|R| Mask Len | Source Address ...
/// </code>
/// </summary>
public static class PimAddressEncoding
{
    public const int HeaderLength = 2;
    public const byte FamilyIpv4 = 1;
    public const byte FamilyIpv6 = 2;
    private const byte GroupBidirFlag = 0x80;
    private const byte GroupAdminScopeFlag = 0x01;
    private const byte SourceSparseFlag = 0x04;
    private const byte SourceWildcardFlag = 0x02;
    private const byte SourceRptFlag = 0x01;

    public static int AddressLength(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4;

    public static int UnicastLength(IPAddress address) => HeaderLength + AddressLength(address);

    public static bool TryReadUnicast(ReadOnlySpan<byte> input, int offset, out IPAddress address, out int length, out ParseError error)
    {
        if (!TryReadFamily(input, offset, "Encoded-Unicast", out int addressLength, out error))
        {
            address = IPAddress.None;
            length = 0;
            return false;
        }
        address = new IPAddress(input.Slice(offset + HeaderLength, addressLength));
        length = HeaderLength + addressLength;
        return true;
    }

    public static bool TryReadGroup(ReadOnlySpan<byte> input, int offset, out PimEncodedGroup group, out int length, out ParseError error)
    {
        group = default;
        length = 0;
        if (!TryReadFamily(input, offset, "Encoded-Group", out int addressLength, out error, extra: 2))
        {
            return false;
        }
        byte flags = input[offset + 2];
        byte mask = input[offset + 3];
        if (mask > addressLength * 8)
        {
            error = ParseError.BadValue(offset + 3, "Encoded-Group mask length {0} exceeds {1} bits", mask, addressLength * 8);
            return false;
        }
        group = new PimEncodedGroup(new IPAddress(input.Slice(offset + 4, addressLength)), mask,
            (flags & GroupBidirFlag) != 0, (flags & GroupAdminScopeFlag) != 0);
        length = 4 + addressLength;
        return true;
    }

    public static bool TryReadSource(ReadOnlySpan<byte> input, int offset, out PimEncodedSource source, out int length, out ParseError error)
    {
        source = default;
        length = 0;
        if (!TryReadFamily(input, offset, "Encoded-Source", out int addressLength, out error, extra: 2))
        {
            return false;
        }
        byte flags = input[offset + 2];
        byte mask = input[offset + 3];
        if (mask > addressLength * 8)
        {
            error = ParseError.BadValue(offset + 3, "Encoded-Source mask length {0} exceeds {1} bits", mask, addressLength * 8);
            return false;
        }
        source = new PimEncodedSource(new IPAddress(input.Slice(offset + 4, addressLength)), mask,
            (flags & SourceSparseFlag) != 0, (flags & SourceWildcardFlag) != 0, (flags & SourceRptFlag) != 0);
        length = 4 + addressLength;
        return true;
    }

    public static int WriteUnicast(Span<byte> destination, IPAddress address)
    {
        WriteFamily(destination, address);
        WriteAddress(destination[HeaderLength..], address);
        return UnicastLength(address);
    }

    public static int WriteGroup(Span<byte> destination, PimEncodedGroup group)
    {
        ValidateMask(group.Address, group.MaskLength);
        WriteFamily(destination, group.Address);
        destination[2] = (byte)((group.Bidirectional ? GroupBidirFlag : 0) | (group.AdminScope ? GroupAdminScopeFlag : 0));
        destination[3] = group.MaskLength;
        WriteAddress(destination[4..], group.Address);
        return group.Length;
    }

    public static int WriteSource(Span<byte> destination, PimEncodedSource source)
    {
        ValidateMask(source.Address, source.MaskLength);
        WriteFamily(destination, source.Address);
        destination[2] = (byte)((source.Sparse ? SourceSparseFlag : 0) | (source.Wildcard ? SourceWildcardFlag : 0) | (source.Rpt ? SourceRptFlag : 0));
        destination[3] = source.MaskLength;
        WriteAddress(destination[4..], source.Address);
        return source.Length;
    }

    private static bool TryReadFamily(ReadOnlySpan<byte> input, int offset, string what, out int addressLength, out ParseError error, int extra = 0)
    {
        addressLength = 0;
        if (input.Length - offset < HeaderLength)
        {
            error = ParseError.Truncated(offset, what + " needs {0} bytes but {1} remain", HeaderLength, input.Length - offset);
            return false;
        }
        byte family = input[offset];
        addressLength = family switch
        {
            FamilyIpv4 => 4,
            FamilyIpv6 => 16,
            _ => 0,
        };
        if (addressLength == 0)
        {
            error = ParseError.Unsupported(offset, what + " address family {0} (1 is IPv4, 2 is IPv6)", family);
            return false;
        }
        if (input[offset + 1] != 0)
        {
            error = ParseError.Unsupported(offset + 1, what + " encoding type {0} (only 0, native, is defined)", input[offset + 1]);
            return false;
        }
        int needed = HeaderLength + extra + addressLength;
        if (input.Length - offset < needed)
        {
            error = ParseError.Truncated(offset, what + " needs {0} bytes but {1} remain", needed, input.Length - offset);
            return false;
        }
        error = default;
        return true;
    }

    private static void WriteFamily(Span<byte> destination, IPAddress address)
    {
        destination[0] = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => FamilyIpv4,
            AddressFamily.InterNetworkV6 => FamilyIpv6,
            _ => throw new ArgumentException($"PIM encodes IPv4 and IPv6 addresses only, not {address.AddressFamily}", nameof(address)),
        };
        destination[1] = 0;
    }

    private static void WriteAddress(Span<byte> destination, IPAddress address)
    {
        if (!address.TryWriteBytes(destination, out _))
        {
            throw new ArgumentException("destination too small for the address", nameof(destination));
        }
    }

    private static void ValidateMask(IPAddress address, byte mask)
    {
        if (mask > AddressLength(address) * 8)
        {
            throw new ArgumentException($"mask length {mask} is longer than the address", nameof(mask));
        }
    }
}
