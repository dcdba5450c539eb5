using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Protocols.Amt;

/// <summary>Field encodings shared by the AMT messages: the 48-bit Response MAC and the 16-byte gateway address.</summary>
internal static class AmtWire
{
    public const int MacLength = 6;
    public const ulong MaxMac = (1UL << 48) - 1;
    public const int GatewayAddressLength = 16;
    private const int Ipv4InIpv6Prefix = 12;

    public static ulong ReadMac(ReadOnlySpan<byte> at) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(at) << 32) | BinaryPrimitives.ReadUInt32BigEndian(at[2..]);

    public static void WriteMac(Span<byte> at, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(at, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(at[2..], (uint)mac);
    }

    public static void CheckMac(ulong mac, string name)
    {
        if (mac > MaxMac)
        {
            throw new ArgumentOutOfRangeException(name, mac, "the Response MAC is 48 bits");
        }
    }

    /// <summary>16 bytes: IPv6 as is, IPv4 as 12 zero bytes then the address (RFC 7450 §5.1.4.7, §5.1.7.6).</summary>
    public static IPAddress ReadGatewayAddress(ReadOnlySpan<byte> at)
    {
        var field = at[..GatewayAddressLength];
        return field[..Ipv4InIpv6Prefix].IndexOfAnyExcept((byte)0) < 0
            ? new IPAddress(field[Ipv4InIpv6Prefix..])
            : new IPAddress(field);
    }

    public static void WriteGatewayAddress(Span<byte> at, IPAddress address)
    {
        var field = at[..GatewayAddressLength];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            field[..Ipv4InIpv6Prefix].Clear();
            address.TryWriteBytes(field[Ipv4InIpv6Prefix..], out _);
        }
        else
        {
            address.TryWriteBytes(field, out _);
        }
    }

    public static void CheckAddress(IPAddress? address, string name)
    {
        ArgumentNullException.ThrowIfNull(address, name);
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"{address} is neither IPv4 nor IPv6", name);
        }
    }
}
