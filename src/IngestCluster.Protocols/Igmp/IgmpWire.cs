using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Protocols.Igmp;

internal static class IgmpWire
{
    public const int AddressLength = 4;

    public static void CheckIpv4(IPAddress? address, string name)
    {
        ArgumentNullException.ThrowIfNull(address, name);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"{address} is not an IPv4 address (IGMP carries IPv4 only)", name);
        }
    }

    public static void WriteAddress(Span<byte> destination, IPAddress address) =>
        address.TryWriteBytes(destination[..AddressLength], out _);

    public static IPAddress[] ReadAddresses(ReadOnlySpan<byte> input, int count)
    {
        var addresses = new IPAddress[count];
        for (int i = 0; i < count; i++)
        {
            addresses[i] = new IPAddress(input.Slice(i * AddressLength, AddressLength));
        }
        return addresses;
    }

    public static bool SequenceEqual(IReadOnlyList<IPAddress> a, IReadOnlyList<IPAddress> b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }
        if (a.Count != b.Count)
        {
            return false;
        }
        for (int i = 0; i < a.Count; i++)
        {
            if (!a[i].Equals(b[i]))
            {
                return false;
            }
        }
        return true;
    }

    public static int HashOf<T>(IReadOnlyList<T> items)
    {
        var hash = new HashCode();
        foreach (var item in items)
        {
            hash.Add(item);
        }
        return hash.ToHashCode();
    }
}
