using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Node.Demand;

/// <summary>
/// PIM on one interface, through a raw IPv4 socket for protocol 103 (see docs/design.md for why not libpcap).
/// The socket is bound to the device (SO_BINDTODEVICE), not to the interface's unicast address: a raw socket
/// bound to an address only receives packets sent to it, and would miss everything sent to ALL-PIM-ROUTERS. It
/// joins 224.0.0.13 on the interface and sends from it (IP_MULTICAST_IF) with TTL 1, TOS 0xC0 and no loopback.
/// Received packets include their IPv4 header.
/// </summary>
public sealed partial class PimSocket : IDisposable
{
    public static readonly IPAddress AllPimRouters = IPAddress.Parse("224.0.0.13");
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int TosInternetworkControl = 0xC0;
    private const int IpProtocolLevel = 0;
    private const int IpMulticastAll = 49;

    private readonly Socket _socket;
    private readonly IPEndPoint _allPimRouters = new(AllPimRouters, 0);

    /// <param name="clusterAddressSender">A send-only socket for the cluster's neighbour address: it writes its own
    /// IPv4 header (<see cref="SendFrom"/>), joins no group and receives nothing.</param>
    public PimSocket(string interfaceName, bool clusterAddressSender = false)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == interfaceName)
            ?? throw new ArgumentException($"no network interface named '{interfaceName}'", nameof(interfaceName));
        var ipv4 = nic.GetIPProperties().GetIPv4Properties()
            ?? throw new ArgumentException($"interface '{interfaceName}' has no IPv4", nameof(interfaceName));
        InterfaceName = interfaceName;
        InterfaceIndex = ipv4.Index;
        LocalAddresses = [.. nic.GetIPProperties().UnicastAddresses
            .Select(a => a.Address).Where(a => a.AddressFamily == AddressFamily.InterNetwork)];
        if (LocalAddresses.Count == 0)
        {
            throw new ArgumentException($"interface '{interfaceName}' has no IPv4 address", nameof(interfaceName));
        }

        _socket = OpenRawPimSocket();
        try
        {
            _socket.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            if (clusterAddressSender)
            {
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
                // Not a receiver: no multicast delivered for groups other sockets joined, and the smallest buffer.
                _socket.SetRawSocketOption(IpProtocolLevel, IpMulticastAll, new byte[4]); // an int 0
                _socket.ReceiveBufferSize = 1;
            }
            else
            {
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(AllPimRouters, InterfaceIndex));
            }
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.HostToNetworkOrder(InterfaceIndex));
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 1);
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.TypeOfService, TosInternetworkControl);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public string InterfaceName { get; }

    public int InterfaceIndex { get; }

    /// <summary>The interface's IPv4 addresses: by default, the Upstream Neighbor addresses we act on.</summary>
    public IReadOnlyList<IPAddress> LocalAddresses { get; }

    /// <summary>Blocks for the next packet (IPv4 header included). Throws when the socket is closed.</summary>
    public int Receive(Span<byte> buffer) => _socket.Receive(buffer);

    /// <summary>Sends a PIM message to 224.0.0.13 out of the interface; the kernel adds the IPv4 header.</summary>
    public void Send(ReadOnlySpan<byte> pimMessage) => _socket.SendTo(pimMessage, SocketFlags.None, _allPimRouters);

    /// <summary>
    /// Sends a PIM message to 224.0.0.13 out of the interface from <paramref name="source"/>, an address this host
    /// need not have: the cluster's neighbour address. We write the IPv4 header ourselves (a send-only socket with
    /// IP_HDRINCL), with TTL 1 and TOS 0xC0 as for our own Hellos. No address is added to the interface, so nothing is left
    /// behind when the holder dies; routers need none, since PIM to a neighbour goes to 224.0.0.13.
    /// </summary>
    public void SendFrom(IPAddress source, ReadOnlySpan<byte> pimMessage)
    {
        var header = new Ipv4HeaderBuilder
        {
            Tos = TosInternetworkControl,
            Ttl = 1,
            Protocol = PimProtocol,
            Source = Ipv4Header.FromAddress(source),
            Destination = Ipv4Header.FromAddress(AllPimRouters),
        };
        Span<byte> datagram = stackalloc byte[header.Length + pimMessage.Length];
        int offset = header.Write(datagram, pimMessage.Length);
        pimMessage.CopyTo(datagram[offset..]);
        _socket.SendTo(datagram, SocketFlags.None, _allPimRouters);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>.NET refuses protocol numbers it has no name for (ProtocolType 103 gives "Protocol not supported"),
    /// so the socket comes from libc and is wrapped.</summary>
    private static Socket OpenRawPimSocket()
    {
        const int afInet = 2;
        const int sockRaw = 3;
        int fd = NativeSocket(afInet, sockRaw, PimProtocol);
        if (fd < 0)
        {
            throw new SocketException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        }
        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    private const int PimProtocol = 103;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int NativeSocket(int domain, int type, int protocol);
}
