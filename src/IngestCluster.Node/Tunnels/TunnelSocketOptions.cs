using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestCluster.Node.Native;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// Section <c>Tunnels</c>, the data-plane keys (docs/settings.md): how tunnel sockets are opened and served.
/// <list type="bullet">
/// <item><see cref="Interface"/> (SO_BINDTODEVICE) and <see cref="SourceAddress"/> (bind): on a node with several
/// upstreams, tunnels leave by, and are received on, the one chosen (NAT, source routing).</item>
/// <item>The receive buffer starts at <see cref="ReceiveBufferFloor"/> and follows the tunnel's measured rate
/// (<see cref="ReceiveBufferTime"/> of it), never above <see cref="ReceiveBufferCeiling"/>.</item>
/// <item><see cref="ReceiveThreads"/> threads serve every tunnel socket through epoll on Linux.</item>
/// </list>
/// </summary>
public sealed record TunnelSocketOptions
{
    public static readonly TunnelSocketOptions Default = new();

    /// <summary>The upstream interface tunnel sockets are bound to; null for the routing table's choice.</summary>
    public string? Interface { get; init; }

    /// <summary>The local address tunnel sockets are bound to; null for any.</summary>
    public IPAddress? SourceAddress { get; init; }

    /// <summary>Receive threads of the Linux reactor; one per core by default.</summary>
    public int ReceiveThreads { get; init; } = Environment.ProcessorCount;

    /// <summary>Datagrams per recvmmsg/sendmmsg; 1 serves each tunnel with its own one-at-a-time loop (the portable path).</summary>
    public int Batch { get; init; } = 64;

    /// <summary>UDP_GRO on tunnel sockets (Linux reactor only): the kernel may coalesce a relay's datagrams.</summary>
    public bool UdpGro { get; init; }

    public int ReceiveBufferFloor { get; init; } = 128 << 10;

    public int ReceiveBufferCeiling { get; init; } = 4 << 20;

    /// <summary>How much of the tunnel's rate the receive buffer holds: the longest stall of the receive thread
    /// that loses nothing.</summary>
    public TimeSpan ReceiveBufferTime { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The receive buffer for a tunnel carrying <paramref name="bytesPerSecond"/>: <see cref="ReceiveBufferTime"/>
    /// of it, between the floor and the ceiling.</summary>
    public int ReceiveBufferFor(long bytesPerSecond)
    {
        double wanted = Math.Max(0, bytesPerSecond) * ReceiveBufferTime.TotalSeconds;
        int floor = Math.Min(ReceiveBufferFloor, ReceiveBufferCeiling);
        return (int)Math.Clamp(wanted, floor, ReceiveBufferCeiling);
    }

    /// <summary>A UDP socket for a tunnel to <paramref name="relay"/>: bound to <see cref="Interface"/> and
    /// <see cref="SourceAddress"/> when set, on an ephemeral port, with the floor receive buffer. Made in the calling
    /// thread's network namespace.</summary>
    public Socket OpenSocket(IPEndPoint relay)
    {
        var socket = new Socket(relay.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (Interface is { } device)
            {
                socket.SetRawSocketOption(LinuxSockets.SolSocket, LinuxSockets.SoBindToDevice, Encoding.ASCII.GetBytes(device + "\0"));
            }
            SetReceiveBuffer(socket, ReceiveBufferFloor);
            var local = SourceAddress is { } address && address.AddressFamily == relay.AddressFamily
                ? address
                : relay.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
            socket.Bind(new IPEndPoint(local, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sets SO_RCVBUF to <paramref name="bytes"/>; as root SO_RCVBUFFORCE, so net.core.rmem_max does not cap
    /// it below the ceiling the operator chose. The kernel doubles the value for its own bookkeeping.</summary>
    public static void SetReceiveBuffer(Socket socket, int bytes)
    {
        if (OperatingSystem.IsLinux())
        {
            Span<byte> value = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(value, bytes);
            try
            {
                socket.SetRawSocketOption(LinuxSockets.SolSocket, LinuxSockets.SoRcvBufForce, value);
                return;
            }
            catch (SocketException)
            {
                // Not root (CAP_NET_ADMIN): the plain option, capped at net.core.rmem_max.
            }
        }
        socket.ReceiveBufferSize = bytes;
    }

    public static bool IsValidInterfaceName(string name) => name.Length is > 0 and <= 15 && Encoding.ASCII.GetByteCount(name) == name.Length;
}
