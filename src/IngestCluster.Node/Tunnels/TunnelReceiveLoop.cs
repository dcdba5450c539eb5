using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
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
public sealed unsafe class TunnelReceiveLoop
{
    private const int BufferSize = 65_536;

    private readonly Socket _socket;
    private readonly SocketAddress _relay;
    private readonly INativeEgress? _egress;
    private readonly Action<byte[]> _onControl;
    private readonly MetricCounter[] _drops;
    private readonly MetricCounter _dataPackets;
    private readonly Thread _thread;
    private readonly int _batch;
    private volatile JoinedFlowTable _flows = JoinedFlowTable.Empty;
    private volatile bool _stopping;
    private long _lastDataTicks;

    /// <param name="batch">Datagrams per system call on Linux with a <see cref="NativeEgress"/> (recvmmsg and
    /// sendmmsg); 1 for one receive and one send per datagram, the portable path.</param>
    public TunnelReceiveLoop(Socket socket, IPEndPoint relay, INativeEgress? egress, Action<byte[]> onControl, NodeMetrics metrics, int batch = 1)
    {
        _socket = socket;
        _batch = Math.Clamp(batch, 1, 1024);
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

    /// <summary>True when this loop uses recvmmsg/sendmmsg.</summary>
    public bool Batched => _batch > 1 && OperatingSystem.IsLinux() && _egress is NativeEgress && _relay.Family == AddressFamily.InterNetwork;

    public void Start() => _thread.Start();

    /// <summary>Asks the loop to end; the batched loop notices within its receive timeout. Dispose the socket after.</summary>
    public void Stop() => _stopping = true;

    private void Run()
    {
        if (Batched)
        {
            RunBatched((NativeEgress)_egress!);
            return;
        }
        RunSingle();
    }

    private void RunSingle()
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

    /// <summary>Every check of a Multicast Data message, and the TTL decrement. On success the inner datagram is
    /// <c>message[AmtMulticastData.HeaderLength..(HeaderLength + length)]</c>, ready to send; drops are counted.</summary>
    private bool Prepare(Span<byte> message, out int length, out FlowStats? flow)
    {
        length = 0;
        flow = null;
        if (!AmtMulticastData.TryRead(message, out _))
        {
            Drop(TunnelDrop.MalformedAmt);
            return false;
        }
        var inner = message[AmtMulticastData.HeaderLength..];
        if (!Ipv4Header.TryRead(inner, out var header, out _))
        {
            Drop(TunnelDrop.MalformedInner);
            return false;
        }
        flow = _flows.Find(header.Source, header.Destination);
        if (flow is null)
        {
            Drop(TunnelDrop.NotJoined);
            return false;
        }
        Volatile.Write(ref _lastDataTicks, Environment.TickCount64);
        if (!Ipv4Header.TryDecrementTtl(inner[..header.TotalLength]))
        {
            flow.TtlExpiredDrop();
            Drop(TunnelDrop.TtlExpired);
            return false;
        }
        if (_egress is null)
        {
            Drop(TunnelDrop.NoEgress);
            return false;
        }
        length = header.TotalLength;
        return true;
    }

    private void Forward(Span<byte> message)
    {
        if (!Prepare(message, out int length, out var flow))
        {
            return;
        }
        var datagram = message.Slice(AmtMulticastData.HeaderLength, length);
        if (!_egress!.Send(datagram))
        {
            flow!.SendError();
            Drop(TunnelDrop.SendError);
            return;
        }
        flow!.Forwarded(datagram.Length);
        _dataPackets.Increment();
    }

    /// <summary>
    /// The Linux fast path: one recvmmsg (MSG_WAITFORONE: it returns as soon as one datagram is there, with as
    /// many more as are queued) and one sendmmsg for every datagram of the batch that passed. Native arrays are
    /// allocated once; nothing is allocated per batch. A 200 ms receive timeout lets <see cref="Stop"/> end it.
    /// </summary>
    private void RunBatched(NativeEgress egress)
    {
        const int slot = 4096;
        const int nameLength = 16;
        int n = _batch;
        var rx = (LinuxMessageBatch.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LinuxMessageBatch.MMsgHdr)));
        var rxIov = (LinuxMessageBatch.IoVec*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LinuxMessageBatch.IoVec)));
        var names = (byte*)NativeMemory.AllocZeroed((nuint)(n * nameLength));
        var buffers = (byte*)NativeMemory.AllocZeroed((nuint)(n * slot));
        var tx = (LinuxMessageBatch.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LinuxMessageBatch.MMsgHdr)));
        var txIov = (LinuxMessageBatch.IoVec*)NativeMemory.AllocZeroed((nuint)(n * sizeof(LinuxMessageBatch.IoVec)));
        var txNames = (byte*)NativeMemory.AllocZeroed((nuint)(n * nameLength));
        var txFlows = new FlowStats[n];
        var txLengths = new int[n];
        Span<byte> relay = stackalloc byte[8];
        _relay.Buffer.Span[..8].CopyTo(relay); // family (2), port (2), IPv4 address (4)
        bool inReceive = false, inSend = false;
        var receiveHandle = _socket.SafeHandle;
        var sendHandle = egress.Handle;
        try
        {
            receiveHandle.DangerousAddRef(ref inReceive);
            sendHandle.DangerousAddRef(ref inSend);
            int receiveFd = (int)receiveHandle.DangerousGetHandle();
            int sendFd = (int)sendHandle.DangerousGetHandle();
            _socket.ReceiveTimeout = 200;
            for (int i = 0; i < n; i++)
            {
                rxIov[i].Base = buffers + (i * slot);
                rxIov[i].Length = slot;
                rx[i].Header.Iov = rxIov + i;
                rx[i].Header.IovLength = 1;
                rx[i].Header.Name = names + (i * nameLength);
                tx[i].Header.Iov = txIov + i;
                tx[i].Header.IovLength = 1;
                tx[i].Header.Name = txNames + (i * nameLength);
                tx[i].Header.NameLength = nameLength;
                *(ushort*)(txNames + (i * nameLength)) = (ushort)AddressFamily.InterNetwork; // sin_family, port 0
            }
            while (!_stopping)
            {
                for (int i = 0; i < n; i++)
                {
                    rx[i].Header.NameLength = nameLength;
                }
                int received = LinuxMessageBatch.RecvMMsg(receiveFd, rx, (uint)n, LinuxMessageBatch.MsgWaitForOne, null);
                if (received < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is LinuxMessageBatch.EIntr or LinuxMessageBatch.EAgain)
                    {
                        continue;
                    }
                    // ICMP errors and the like: the control plane's timers deal with a relay that does not answer.
                    continue;
                }
                int ready = 0;
                for (int i = 0; i < received; i++)
                {
                    var message = new Span<byte>(buffers + (i * slot), (int)rx[i].Length);
                    if (!new ReadOnlySpan<byte>(names + (i * nameLength), 8).SequenceEqual(relay))
                    {
                        Drop(TunnelDrop.WrongPeer);
                        continue;
                    }
                    if ((rx[i].Header.Flags & LinuxMessageBatch.MsgTrunc) != 0)
                    {
                        Drop(TunnelDrop.MalformedAmt);
                        continue;
                    }
                    if (message.Length == 0 || message[0] != (byte)AmtMessageType.MulticastData)
                    {
                        Handle(message);
                        continue;
                    }
                    if (!Prepare(message, out int length, out var flow))
                    {
                        continue;
                    }
                    byte* datagram = buffers + (i * slot) + AmtMulticastData.HeaderLength;
                    txIov[ready].Base = datagram;
                    txIov[ready].Length = (nuint)length;
                    *(uint*)(txNames + (ready * nameLength) + 4) = *(uint*)(datagram + 16); // destination, network order
                    txFlows[ready] = flow!;
                    txLengths[ready] = length;
                    ready++;
                }
                int sent = 0;
                while (sent < ready)
                {
                    int r = LinuxMessageBatch.SendMMsg(sendFd, tx + sent, (uint)(ready - sent), 0);
                    if (r <= 0)
                    {
                        if (r < 0 && Marshal.GetLastPInvokeError() == LinuxMessageBatch.EIntr)
                        {
                            continue;
                        }
                        break;
                    }
                    sent += r;
                }
                long bytes = 0;
                for (int j = 0; j < ready; j++)
                {
                    if (j < sent)
                    {
                        txFlows[j].Forwarded(txLengths[j]);
                        bytes += txLengths[j];
                    }
                    else
                    {
                        txFlows[j].SendError();
                        Drop(TunnelDrop.SendError);
                    }
                    txFlows[j] = null!;
                }
                if (sent > 0)
                {
                    _dataPackets.Add(sent);
                }
                egress.CountBatch(sent, bytes, ready - sent);
            }
        }
        catch (ObjectDisposedException)
        {
            // The socket went away: the tunnel is closing.
        }
        finally
        {
            if (inReceive)
            {
                receiveHandle.DangerousRelease();
            }
            if (inSend)
            {
                sendHandle.DangerousRelease();
            }
            NativeMemory.Free(rx);
            NativeMemory.Free(rxIov);
            NativeMemory.Free(names);
            NativeMemory.Free(buffers);
            NativeMemory.Free(tx);
            NativeMemory.Free(txIov);
            NativeMemory.Free(txNames);
        }
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
