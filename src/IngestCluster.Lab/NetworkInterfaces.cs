using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace IngestCluster.Lab;

/// <summary>
/// Socket options the lab peers need that .NET does not spell out, set through <c>setsockopt</c> with Linux
/// numbers, and interface look-ups. Everything is resolved in the calling thread's network namespace.
/// </summary>
internal static partial class NetworkInterfaces
{
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int IpProtoIp = 0;
    private const int IpAddSourceMembership = 39;
    private const int IpDropSourceMembership = 40;

    [LibraryImport("libc", EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint IfNameToIndex(string name);

    /// <summary>The interface's index, or a <see cref="UsageException"/> when there is no such interface.</summary>
    public static int IndexOf(string name)
    {
        var index = IfNameToIndex(name);
        return index == 0 ? throw new UsageException($"no network interface named '{name}'") : (int)index;
    }

    /// <summary>The first IPv4 address of the interface named <paramref name="name"/>.</summary>
    public static IPAddress Ipv4AddressOf(string name)
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.Name != name)
            {
                continue;
            }
            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == AddressFamily.InterNetwork)
                {
                    return unicast.Address;
                }
            }
            throw new UsageException($"network interface '{name}' has no IPv4 address");
        }
        throw new UsageException($"no network interface named '{name}'");
    }

    /// <summary>SO_BINDTODEVICE: the socket sends and receives only through this interface.</summary>
    public static void BindToDevice(Socket socket, string interfaceName)
    {
        var name = Encoding.ASCII.GetBytes(interfaceName + "\0");
        socket.SetRawSocketOption(SolSocket, SoBindToDevice, name);
    }

    /// <summary>IP_ADD_SOURCE_MEMBERSHIP with the Linux <c>ip_mreq_source</c> layout: multiaddr, interface, sourceaddr.</summary>
    public static void AddSourceMembership(Socket socket, IPAddress source, IPAddress group, IPAddress interfaceAddress) =>
        socket.SetRawSocketOption(IpProtoIp, IpAddSourceMembership, SourceRequest(source, group, interfaceAddress));

    /// <summary>IP_DROP_SOURCE_MEMBERSHIP, the same layout.</summary>
    public static void DropSourceMembership(Socket socket, IPAddress source, IPAddress group, IPAddress interfaceAddress) =>
        socket.SetRawSocketOption(IpProtoIp, IpDropSourceMembership, SourceRequest(source, group, interfaceAddress));

    private static byte[] SourceRequest(IPAddress source, IPAddress group, IPAddress interfaceAddress)
    {
        var request = new byte[12];
        group.TryWriteBytes(request.AsSpan(0, 4), out _);
        interfaceAddress.TryWriteBytes(request.AsSpan(4, 4), out _);
        source.TryWriteBytes(request.AsSpan(8, 4), out _);
        return request;
    }

    /// <summary>An IPv4 address as the big-endian number of its four bytes (10.0.0.1 = 0x0A000001).</summary>
    public static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static IPAddress FromUInt32(uint address)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        return new IPAddress(bytes);
    }
}
