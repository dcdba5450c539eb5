using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
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
/// The data plane of one tunnel, whichever loop receives for it (<see cref="TunnelReactor"/> on Linux,
/// <see cref="TunnelReceiveLoop"/> elsewhere): its socket, its relay, its joined (S,G)s and its egress. The receive
/// step (<see cref="Accept"/>) checks a datagram (AMT type, inner IPv4 header and checksum, joined (S,G), TTL
/// decrement) and hands every other AMT message, copied, to <c>onControl</c>, which posts it to the tunnel actor; the
/// forward step is the egress send. No actor message and no allocation per packet. Drops are counted per tunnel
/// and in the node's <c>ingest_tunnel_dropped_total</c>, and never cross to another tunnel: each tunnel checks its own
/// relay address and port and its own flows.
/// </summary>
public sealed class TunnelDataPath
{
    private readonly Action<byte[]> _onControl;
    private readonly MetricCounter[] _drops;
    private readonly MetricCounter _dataPackets;
    // Written only by the one thread that receives for this tunnel; read by others.
    private readonly long[] _dropped = new long[Enum.GetValues<TunnelDrop>().Length];
    private long _forwarded;
    private volatile JoinedFlowTable _flows = JoinedFlowTable.Empty;
    private long _lastDataTicks;

    public TunnelDataPath(Socket socket, IPEndPoint relay, INativeEgress? egress, Action<byte[]> onControl, NodeMetrics metrics)
    {
        Socket = socket;
        Relay = relay;
        RelayAddress = relay.Serialize();
        if (relay.AddressFamily == AddressFamily.InterNetwork)
        {
            // sockaddr_in's family (2 bytes, host order), port and address (network order): what recvmmsg writes.
            RelayKey = BitConverter.ToUInt64(RelayAddress.Buffer.Span[..8]);
        }
        Egress = egress;
        _onControl = onControl;
        _drops = [.. Enum.GetValues<TunnelDrop>().Select(d =>
            metrics.Counter("ingest_tunnel_dropped_total", $"reason=\"{Label(d)}\"", "Datagrams the tunnels' data path dropped, by reason."))];
        _dataPackets = metrics.Counter("ingest_tunnel_data_packets_total", help: "AMT Multicast Data packets forwarded to the LAN.");
    }

    public Socket Socket { get; }

    public IPEndPoint Relay { get; }

    public INativeEgress? Egress { get; }

    internal SocketAddress RelayAddress { get; }

    /// <summary>The first 8 bytes of the relay's sockaddr_in, for an allocation-free comparison; 0 for IPv6.</summary>
    internal ulong RelayKey { get; }

    /// <summary>The joined (S,G)s; the tunnel actor replaces it when its groups change.</summary>
    public JoinedFlowTable Flows
    {
        get => _flows;
        set => _flows = value;
    }

    /// <summary>When the last Multicast Data for a joined flow arrived, as <see cref="Environment.TickCount64"/>
    /// (0 for never): the actor's no-data timer reads it instead of receiving a message per packet.</summary>
    public long LastDataTickCount => Interlocked.Read(ref _lastDataTicks);

    /// <summary>Datagrams of this tunnel dropped for <paramref name="reason"/>.</summary>
    public long Dropped(TunnelDrop reason) => Volatile.Read(ref _dropped[(int)reason]);

    /// <summary>Datagrams of this tunnel sent onto the LAN.</summary>
    public long Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>One datagram from the relay, received and forwarded with a single send: the portable path, and the tests'.</summary>
    public void Handle(Span<byte> message)
    {
        if (!Accept(message, Environment.TickCount64, out int length, out var flow))
        {
            return;
        }
        var datagram = message.Slice(AmtMulticastData.HeaderLength, length);
        if (Egress!.Send(datagram))
        {
            CountForwarded(flow!, 1, datagram.Length);
        }
        else
        {
            CountSendError(flow!);
        }
    }

    /// <summary>
    /// The receive step, for one datagram that came from the relay. True for Multicast Data of a joined flow whose
    /// TTL was decremented: the inner datagram is <c>message[AmtMulticastData.HeaderLength..][..length]</c>, ready to
    /// send. Anything else is a control message (copied to the actor) or a counted drop.
    /// </summary>
    internal bool Accept(Span<byte> message, long nowTicks, out int length, out FlowStats? flow)
    {
        length = 0;
        flow = null;
        if (message.Length == 0 || message[0] != (byte)AmtMessageType.MulticastData)
        {
            if (AmtMessage.TryReadType(message, out _, out _))
            {
                _onControl(message.ToArray());
            }
            else
            {
                CountDrop(TunnelDrop.MalformedAmt);
            }
            return false;
        }
        if (!AmtMulticastData.TryRead(message, out _))
        {
            CountDrop(TunnelDrop.MalformedAmt);
            return false;
        }
        var inner = message[AmtMulticastData.HeaderLength..];
        if (!Ipv4Header.TryRead(inner, out var header, out _))
        {
            CountDrop(TunnelDrop.MalformedInner);
            return false;
        }
        flow = _flows.Find(header.Source, header.Destination);
        if (flow is null)
        {
            CountDrop(TunnelDrop.NotJoined);
            return false;
        }
        if (_lastDataTicks != nowTicks)
        {
            Volatile.Write(ref _lastDataTicks, nowTicks);
        }
        if (!Ipv4Header.TryDecrementTtl(inner[..header.TotalLength]))
        {
            flow.TtlExpiredDrop();
            CountDrop(TunnelDrop.TtlExpired);
            return false;
        }
        if (Egress is null)
        {
            CountDrop(TunnelDrop.NoEgress);
            return false;
        }
        length = header.TotalLength;
        return true;
    }

    /// <summary>The forward step's accounting: <paramref name="packets"/> of <paramref name="flow"/> left.</summary>
    internal void CountForwarded(FlowStats flow, int packets, long bytes)
    {
        flow.Forwarded(packets, bytes);
        _dataPackets.Add(packets);
        Volatile.Write(ref _forwarded, _forwarded + packets);
    }

    internal void CountSendError(FlowStats flow)
    {
        flow.SendError();
        CountDrop(TunnelDrop.SendError);
    }

    internal void CountDrop(TunnelDrop reason)
    {
        _drops[(int)reason].Increment();
        Volatile.Write(ref _dropped[(int)reason], _dropped[(int)reason] + 1);
    }

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
