using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Native;

namespace IngestCluster.Node.Egress;

/// <summary>
/// Sends whole IPv4 datagrams (header included) out of one downstream interface through a raw socket.
/// <list type="bullet">
/// <item>IPPROTO_RAW, which implies IP_HDRINCL on Linux (set explicitly too): the kernel sends our header as it
/// is, filling in only the header checksum (and the ID when it is 0).</item>
/// <item>SO_BINDTODEVICE to the interface, and IP_MULTICAST_IF to its index: otherwise multicast leaves by the
/// routing table's choice.</item>
/// <item>IP_MULTICAST_LOOP 0: no copy of every packet back into the local stack.</item>
/// </list>
/// <see cref="Send"/> allocates nothing: the destination <see cref="SocketAddress"/> is one per sending thread,
/// reused, with its address bytes overwritten from the datagram's destination field.
/// The socket belongs to the network namespace of the thread that constructs this object.
/// </summary>
public sealed class NativeEgress : INativeEgress
{
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int Ipv4MinHeaderLength = 20;
    private const int DestinationOffset = 16;
    // In a SocketAddress's buffer an IPv4 sockaddr_in holds the address at bytes 4..7.
    private const int SocketAddressIpv4Offset = 4;

    [ThreadStatic]
    private static SocketAddress? t_destination;

    private readonly Socket _socket;
    private readonly MetricCounter _packets;
    private readonly MetricCounter _bytes;
    private readonly MetricCounter _sendErrors;
    private readonly MetricCounter _malformed;
    private long _sent;
    private long _failed;

    public NativeEgress(string interfaceName, NodeMetrics metrics)
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

        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
        try
        {
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
            _socket.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface,
                IPAddress.HostToNetworkOrder(InterfaceIndex));
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        _packets = metrics.Counter("ingest_egress_packets_total", "", "Datagrams sent onto the downstream LAN");
        _bytes = metrics.Counter("ingest_egress_bytes_total", "", "Bytes (IP header included) sent onto the downstream LAN");
        _sendErrors = metrics.Counter("ingest_egress_dropped_total", "reason=\"send_failed\"", "Datagrams the egress could not send");
        _malformed = metrics.Counter("ingest_egress_dropped_total", "reason=\"malformed\"", "Datagrams the egress could not send");
    }

    public string InterfaceName { get; }

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
        var destination = t_destination ??= new SocketAddress(AddressFamily.InterNetwork);
        ipv4Datagram.Slice(DestinationOffset, 4).CopyTo(destination.Buffer.Span.Slice(SocketAddressIpv4Offset, 4));
        try
        {
            _socket.SendTo(ipv4Datagram, SocketFlags.None, destination);
        }
        catch (SocketException)
        {
            _sendErrors.Increment();
            Interlocked.Increment(ref _failed);
            return false;
        }
        catch (ObjectDisposedException)
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

    /// <summary>On Linux a sendmmsg batch over native arrays allocated once (<see cref="SendMMsgBatch"/>); elsewhere
    /// one send per datagram.</summary>
    public IEgressBatch OpenBatch(int capacity) =>
        OperatingSystem.IsLinux() ? new SendMMsgBatch(this, capacity) : new SequentialEgressBatch(this, capacity);

    internal SafeSocketHandle Handle => _socket.SafeHandle;

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

    public void Dispose() => _socket.Dispose();

    private static uint IfNameToIndex(string name) => OperatingSystem.IsWindows() ? 0 : LinuxSockets.IfNameToIndex(name);
}
