using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Native;

namespace IngestCluster.Node.Egress;

/// <summary>The kind of socket an egress sends by.</summary>
public enum EgressSocket
{
    /// <summary>An AF_PACKET datagram socket (Linux, Ethernet interfaces): the kernel adds only the Ethernet header
    /// (our interface's address, the group's multicast MAC address) and hands the frame to the interface's queue;
    /// the IP output path (routing, netfilter, neighbour) is not walked. The default where it can be used.</summary>
    Packet,

    /// <summary>A raw IPPROTO_RAW socket (IP_HDRINCL): the IP output path sends our header as it is.</summary>
    Raw,
}

/// <summary>
/// Sends whole IPv4 datagrams (header included, TTL and checksum as the caller left them) out of one downstream
/// interface, by one of two sockets (<see cref="EgressSocket"/>):
/// <list type="bullet">
/// <item><b>Packet</b> (AF_PACKET, SOCK_DGRAM, protocol 0 so that it receives nothing): each datagram goes to
/// sockaddr_ll {ETH_P_IP, the interface, 01:00:5e plus the group's low 23 bits}. On the wire the frame is what the
/// raw socket would have sent, except that an IP ID of 0 stays 0 (a router does not renumber either); the node's
/// own netfilter OUTPUT/POSTROUTING rules are not applied. It costs the kernel less per datagram
/// (docs/benchmarks.md, "Egress by a packet socket").</item>
/// <item><b>Raw</b> (IPPROTO_RAW, which implies IP_HDRINCL on Linux, set explicitly too): the kernel sends our
/// header as it is, filling in only the header checksum (and the ID when it is 0); SO_BINDTODEVICE to the
/// interface and IP_MULTICAST_IF to its index (otherwise multicast leaves by the routing table's choice), and
/// IP_MULTICAST_LOOP 0 (no copy of every packet back into the local stack).</item>
/// </list>
/// <see cref="Send"/> allocates nothing: the raw socket's destination <see cref="SocketAddress"/> is one per sending
/// thread, reused; the packet socket's sockaddr_ll is on the stack. The socket belongs to the network namespace of
/// the thread that constructs this object.
/// </summary>
public sealed unsafe class NativeEgress : INativeEgress
{
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int Ipv4MinHeaderLength = 20;
    private const int DestinationOffset = 16;
    // In a SocketAddress's buffer an IPv4 sockaddr_in holds the address at bytes 4..7.
    private const int SocketAddressIpv4Offset = 4;
    private const int SockAddrInLength = 16;

    [ThreadStatic]
    private static SocketAddress? t_destination;

    private readonly Socket? _socket;
    private readonly SafeSocketHandle _handle;
    private readonly MetricCounter _packets;
    private readonly MetricCounter _bytes;
    private readonly MetricCounter _sendErrors;
    private readonly MetricCounter _malformed;
    private long _sent;
    private long _failed;

    /// <summary>An egress on <paramref name="interfaceName"/>. <paramref name="socket"/> Packet needs Linux and an
    /// Ethernet interface (<see cref="ArgumentException"/> otherwise; <see cref="CanUsePacketSocket"/> tells).</summary>
    public NativeEgress(string interfaceName, NodeMetrics metrics, EgressSocket socket = EgressSocket.Raw)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        ArgumentNullException.ThrowIfNull(metrics);
        if (Encoding.ASCII.GetByteCount(interfaceName) > 15)
        {
            throw new ArgumentException($"interface name '{interfaceName}' is longer than 15 bytes", nameof(interfaceName));
        }
        var index = IfNameToIndex(interfaceName);
        if (index == 0)
        {
            throw new ArgumentException($"no network interface named '{interfaceName}' in this network namespace", nameof(interfaceName));
        }
        InterfaceName = interfaceName;
        InterfaceIndex = (int)index;
        Kind = socket;

        if (socket == EgressSocket.Packet)
        {
            if (!CanUsePacketSocket(interfaceName, out string why))
            {
                throw new ArgumentException($"Egress:Socket packet on '{interfaceName}': {why}", nameof(socket));
            }
            int fd = LinuxSockets.Socket(LinuxSockets.AfPacket, LinuxSockets.SockDgram | LinuxSockets.SockCloExec, 0);
            if (fd < 0)
            {
                throw new SocketException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            }
            _handle = new SafeSocketHandle(fd, ownsHandle: true);
        }
        else
        {
            _socket = CreateRawSocket(interfaceName, InterfaceIndex);
            _handle = _socket.SafeHandle;
        }

        _packets = metrics.Counter("ingest_egress_packets_total", "", "Datagrams sent onto the downstream LAN");
        _bytes = metrics.Counter("ingest_egress_bytes_total", "", "Bytes (IP header included) sent onto the downstream LAN");
        _sendErrors = metrics.Counter("ingest_egress_dropped_total", "reason=\"send_failed\"", "Datagrams the egress could not send");
        _malformed = metrics.Counter("ingest_egress_dropped_total", "reason=\"malformed\"", "Datagrams the egress could not send");
    }

    public string InterfaceName { get; }

    /// <summary>The socket this egress sends by.</summary>
    public EgressSocket Kind { get; }

    public int InterfaceIndex { get; }

    /// <summary>Datagrams sent since construction.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Datagrams not sent: too short to be IPv4, or the send failed.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public bool Send(ReadOnlySpan<byte> ipv4Datagram)
    {
        if (ipv4Datagram.Length < Ipv4MinHeaderLength || ipv4Datagram[0] >> 4 != 4)
        {
            _malformed.Increment();
            Interlocked.Increment(ref _failed);
            return false;
        }
        if (!(Kind == EgressSocket.Packet ? SendPacket(ipv4Datagram) : SendRaw(ipv4Datagram)))
        {
            _sendErrors.Increment();
            Interlocked.Increment(ref _failed);
            return false;
        }
        _packets.Increment();
        _bytes.Add(ipv4Datagram.Length);
        Interlocked.Increment(ref _sent);
        return true;
    }

    private bool SendRaw(ReadOnlySpan<byte> ipv4Datagram)
    {
        var destination = t_destination ??= new SocketAddress(AddressFamily.InterNetwork);
        ipv4Datagram.Slice(DestinationOffset, 4).CopyTo(destination.Buffer.Span.Slice(SocketAddressIpv4Offset, 4));
        try
        {
            _socket!.SendTo(ipv4Datagram, SocketFlags.None, destination);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private bool SendPacket(ReadOnlySpan<byte> ipv4Datagram)
    {
        byte* name = stackalloc byte[LinuxSockets.SockAddrLlLength];
        InitName(name);
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            fixed (byte* datagram = ipv4Datagram)
            {
                SetDestination(name, datagram);
                return LinuxSockets.SendTo((int)_handle.DangerousGetHandle(), datagram, (nuint)ipv4Datagram.Length, 0, name,
                    LinuxSockets.SockAddrLlLength) >= 0;
            }
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>The size of one destination address for sendmmsg: sockaddr_ll or sockaddr_in.</summary>
    internal int NameLength => Kind == EgressSocket.Packet ? LinuxSockets.SockAddrLlLength : SockAddrInLength;

    /// <summary>Writes the part of a destination address that is the same for every datagram.</summary>
    internal void InitName(byte* name)
    {
        new Span<byte>(name, NameLength).Clear();
        if (Kind == EgressSocket.Packet)
        {
            *(ushort*)name = LinuxSockets.AfPacket; // sll_family
            name[2] = 0x08; // sll_protocol: ETH_P_IP, network order
            name[3] = 0x00;
            *(int*)(name + 4) = InterfaceIndex; // sll_ifindex
            name[11] = 6; // sll_halen
            name[12] = 0x01; // sll_addr: 01:00:5e, then the group's low 23 bits
            name[13] = 0x00;
            name[14] = 0x5e;
        }
        else
        {
            *(ushort*)name = (ushort)AddressFamily.InterNetwork; // sin_family; port 0
        }
    }

    /// <summary>Writes the datagram's own destination into an address <see cref="InitName"/> prepared.</summary>
    internal void SetDestination(byte* name, byte* datagram)
    {
        byte* group = datagram + DestinationOffset;
        if (Kind == EgressSocket.Packet)
        {
            name[15] = (byte)(group[1] & 0x7f);
            name[16] = group[2];
            name[17] = group[3];
        }
        else
        {
            *(uint*)(name + 4) = *(uint*)group; // sin_addr, network order
        }
    }

    /// <summary>On Linux a sendmmsg batch over native arrays allocated once (<see cref="SendMMsgBatch"/>); elsewhere
    /// one send per datagram.</summary>
    public IEgressBatch OpenBatch(int capacity) =>
        OperatingSystem.IsLinux() ? new SendMMsgBatch(this, capacity) : new SequentialEgressBatch(this, capacity);

    internal SafeSocketHandle Handle => _handle;

    internal void CountMalformed()
    {
        _malformed.Increment();
        Interlocked.Increment(ref _failed);
    }

    /// <summary>Counts what a batched send did, as <see cref="Send"/> counts one datagram.</summary>
    internal void CountBatch(int sent, long bytes, int failed)
    {
        _packets.Add(sent);
        _bytes.Add(bytes);
        Interlocked.Add(ref _sent, sent);
        if (failed > 0)
        {
            _sendErrors.Add(failed);
            Interlocked.Add(ref _failed, failed);
        }
    }

    public void Dispose()
    {
        if (_socket is not null)
        {
            _socket.Dispose();
        }
        else
        {
            _handle.Dispose();
        }
    }

    private static Socket CreateRawSocket(string interfaceName, int interfaceIndex)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
            socket.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface,
                IPAddress.HostToNetworkOrder(interfaceIndex));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether a packet socket can send on <paramref name="interfaceName"/> in this thread's network
    /// namespace: Linux, and an Ethernet interface (SIOCGIFHWADDR gives ARPHRD_ETHER; veth and bridges are).</summary>
    public static bool CanUsePacketSocket(string interfaceName, out string why)
    {
        if (!OperatingSystem.IsLinux())
        {
            why = "packet sockets are Linux only";
            return false;
        }
        int fd = LinuxSockets.Socket(LinuxSockets.AfPacket, LinuxSockets.SockDgram | LinuxSockets.SockCloExec, 0);
        if (fd < 0)
        {
            why = $"no packet socket ({new SocketException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()).Message})";
            return false;
        }
        try
        {
            byte* request = stackalloc byte[LinuxSockets.IfReqLength];
            new Span<byte>(request, LinuxSockets.IfReqLength).Clear();
            Encoding.ASCII.GetBytes(interfaceName, new Span<byte>(request, 15));
            if (LinuxSockets.Ioctl(fd, LinuxSockets.SiocGIfHwAddr, request) != 0)
            {
                why = $"no hardware address ({new SocketException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()).Message})";
                return false;
            }
            ushort type = *(ushort*)(request + 16);
            why = type == LinuxSockets.ArphrdEther ? "" : $"not an Ethernet interface (ARPHRD {type})";
            return type == LinuxSockets.ArphrdEther;
        }
        finally
        {
            LinuxSockets.Close(fd);
        }
    }

    private static uint IfNameToIndex(string name) => OperatingSystem.IsWindows() ? 0 : LinuxSockets.IfNameToIndex(name);
}
