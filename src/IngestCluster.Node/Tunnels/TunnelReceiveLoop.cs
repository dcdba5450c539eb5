using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Node.Tunnels;

/// <summary>Why the data path dropped a datagram; the label of <c>ingest_tunnel_dropped_total</c>.</summary>
public enum TunnelDrop
{
    WrongPeer,
    MalformedAmt,
    MalformedInner,
    NotJoined,
    TtlExpired,
    NoEgress,
    SendError,
}

/// <summary>
/// The data plane of one tunnel: a dedicated thread blocked on the tunnel's UDP socket. Multicast Data is
/// checked and forwarded right here (inner IPv4 header and checksum, joined (S,G), TTL decrement, egress), with
/// no actor message and no allocation per packet. Every other AMT message is copied and handed to
/// <c>onControl</c>, which posts it to the tunnel actor. Datagrams from anyone but the relay's address and port
/// are dropped and counted. Disposing the socket ends the loop.
/// </summary>
public sealed class TunnelReceiveLoop
{
    private const int BufferSize = 65_536;

    private readonly Socket _socket;
    private readonly SocketAddress _relay;
    private readonly INativeEgress? _egress;
    private readonly Action<byte[]> _onControl;
    private readonly MetricCounter[] _drops;
    private readonly MetricCounter _dataPackets;
    private readonly Thread _thread;
    private volatile JoinedFlowTable _flows = JoinedFlowTable.Empty;
    private long _lastDataTicks;

    public TunnelReceiveLoop(Socket socket, IPEndPoint relay, INativeEgress? egress, Action<byte[]> onControl, NodeMetrics metrics)
    {
        _socket = socket;
        _relay = relay.Serialize();
        _egress = egress;
        _onControl = onControl;
        _drops = [.. Enum.GetValues<TunnelDrop>().Select(d =>
            metrics.Counter("ingest_tunnel_dropped_total", $"reason=\"{Label(d)}\"", "Datagrams the tunnels' data path dropped, by reason."))];
        _dataPackets = metrics.Counter("ingest_tunnel_data_packets_total", help: "AMT Multicast Data packets forwarded to the LAN.");
        _thread = new Thread(Run) { IsBackground = true, Name = $"amt-rx {relay}" };
    }

    /// <summary>The joined (S,G)s; the tunnel actor replaces it when its groups change.</summary>
    public JoinedFlowTable Flows
    {
        get => _flows;
        set => _flows = value;
    }

    /// <summary>When the last Multicast Data for a joined flow arrived, as <see cref="Environment.TickCount64"/>
    /// (0 for never): the actor's no-data timer reads it instead of receiving a message per packet.</summary>
    public long LastDataTickCount => Interlocked.Read(ref _lastDataTicks);

    public long Dropped(TunnelDrop reason) => _drops[(int)reason].Value;

    public void Start() => _thread.Start();

    private void Run()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
        var from = new SocketAddress(_relay.Family);
        while (true)
        {
            int length;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.Interrupted or SocketError.OperationAborted or SocketError.Shutdown or SocketError.NotSocket)
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP errors (port unreachable from a dead relay) surface here on Linux; the control plane's
                // timers deal with a relay that does not answer.
                continue;
            }
            if (!from.Equals(_relay))
            {
                Drop(TunnelDrop.WrongPeer);
                continue;
            }
            Handle(buffer.AsSpan(0, length));
        }
    }

    /// <summary>One datagram from the relay. Public for the benchmark and the tests.</summary>
    public void Handle(Span<byte> message)
    {
        if (message.Length > 0 && message[0] == (byte)AmtMessageType.MulticastData)
        {
            Forward(message);
            return;
        }
        if (!AmtMessage.TryReadType(message, out _, out _))
        {
            Drop(TunnelDrop.MalformedAmt);
            return;
        }
        _onControl(message.ToArray());
    }

    private void Forward(Span<byte> message)
    {
        if (!AmtMulticastData.TryRead(message, out _))
        {
            Drop(TunnelDrop.MalformedAmt);
            return;
        }
        var inner = message[AmtMulticastData.HeaderLength..];
        if (!Ipv4Header.TryRead(inner, out var header, out _))
        {
            Drop(TunnelDrop.MalformedInner);
            return;
        }
        var flow = _flows.Find(header.Source, header.Destination);
        if (flow is null)
        {
            Drop(TunnelDrop.NotJoined);
            return;
        }
        Volatile.Write(ref _lastDataTicks, Environment.TickCount64);
        var datagram = inner[..header.TotalLength];
        if (!Ipv4Header.TryDecrementTtl(datagram))
        {
            flow.TtlExpiredDrop();
            Drop(TunnelDrop.TtlExpired);
            return;
        }
        if (_egress is null)
        {
            Drop(TunnelDrop.NoEgress);
            return;
        }
        if (!_egress.Send(datagram))
        {
            flow.SendError();
            Drop(TunnelDrop.SendError);
            return;
        }
        flow.Forwarded(datagram.Length);
        _dataPackets.Increment();
    }

    private void Drop(TunnelDrop reason) => _drops[(int)reason].Increment();

    private static string Label(TunnelDrop drop) => drop switch
    {
        TunnelDrop.WrongPeer => "wrong_peer",
        TunnelDrop.MalformedAmt => "malformed_amt",
        TunnelDrop.MalformedInner => "malformed_inner",
        TunnelDrop.NotJoined => "not_joined",
        TunnelDrop.TtlExpired => "ttl_expired",
        TunnelDrop.NoEgress => "no_egress",
        _ => "send_error",
    };
}
