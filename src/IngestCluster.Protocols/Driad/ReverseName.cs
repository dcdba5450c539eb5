using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IngestCluster.Protocols.Driad;

/// <summary>The DNS reverse name of an address, where DRIAD looks for its AMTRELAY records (RFC 8777 §2.4).</summary>
public static class ReverseName
{
    /// <summary>IPv4 198.51.100.12 → <c>12.100.51.198.in-addr.arpa.</c>; IPv6 → 32 reversed nibbles under
    /// <c>ip6.arpa.</c>. An IPv4-mapped IPv6 address is taken as its IPv4 address.</summary>
    public static string For(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int length))
        {
            throw new ArgumentException($"address {address} has no byte form", nameof(address));
        }
        var name = new StringBuilder(72);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (int i = length - 1; i >= 0; i--)
            {
                name.Append(bytes[i].ToString(CultureInfo.InvariantCulture)).Append('.');
            }
            return name.Append("in-addr.arpa.").ToString();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"address {address} is neither IPv4 nor IPv6", nameof(address));
        }
        const string Hex = "0123456789abcdef";
        for (int i = length - 1; i >= 0; i--)
        {
            name.Append(Hex[bytes[i] & 0x0F]).Append('.').Append(Hex[bytes[i] >> 4]).Append('.');
        }
        return name.Append("ip6.arpa.").ToString();
    }
}
