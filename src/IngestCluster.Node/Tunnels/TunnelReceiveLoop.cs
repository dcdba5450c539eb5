using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Native;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// The portable receive path: one thread blocked on one tunnel's socket, one receive and one send per datagram
/// (<see cref="TunnelDataPath.Handle"/>). Used where there is no epoll, or with <c>Tunnels:Batch</c> 1. Datagrams
/// from anyone but the relay are dropped and counted. Disposing the socket ends the loop.
/// </summary>
public sealed class TunnelReceiveLoop
{
    private const int BufferSize = 65_536;

    private readonly TunnelDataPath _path;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public TunnelReceiveLoop(TunnelDataPath path)
    {
        _path = path;
        _thread = new Thread(Run) { IsBackground = true, Name = $"amt-rx {path.Relay}" };
    }

    public void Start() => _thread.Start();

    /// <summary>Asks the loop to end; dispose the socket to unblock it.</summary>
    public void Stop() => _stopping = true;

    private void Run()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
        var from = new SocketAddress(_path.RelayAddress.Family);
        while (!_stopping)
        {
            int length;
            try
            {
                length = _path.Socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (ReceiveLoopErrors.SocketClosed(e))
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP errors (port unreachable from a dead relay) surface here on Linux; the control plane's
                // timers deal with a relay that does not answer.
                continue;
            }
            if (!from.Equals(_path.RelayAddress))
            {
                _path.CountDrop(TunnelDrop.WrongPeer);
                continue;
            }
            _path.Handle(buffer.AsSpan(0, length));
        }
    }
}

/// <summary>Where tunnels are received: adding or removing a tunnel is a registration.</summary>
public interface ITunnelReceiver : IDisposable
{
    /// <summary>What serves the tunnels, for the log.</summary>
    string Description { get; }

    /// <summary>Starts receiving for <paramref name="path"/>; completes when it is served.</summary>
    Task Add(TunnelDataPath path);

    /// <summary>Stops receiving for <paramref name="path"/>; completes when no receive thread touches its socket
    /// any more. The socket may be disposed at once: the receiver holds a reference on its handle until then.</summary>
    Task Remove(TunnelDataPath path);

    /// <summary>The receiver a node uses: the epoll reactor on Linux with batches, else a loop per tunnel.</summary>
    static ITunnelReceiver Create(TunnelSocketOptions options, Hosting.NodeMetrics metrics) =>
        OperatingSystem.IsLinux() && options.Batch > 1
            ? new TunnelReactor(options.ReceiveThreads, options.Batch, options.UdpGro, metrics)
            : new PerTunnelReceiver();
}

/// <summary>The portable receiver: a <see cref="TunnelReceiveLoop"/> thread per tunnel.</summary>
public sealed class PerTunnelReceiver : ITunnelReceiver
{
    private readonly Dictionary<TunnelDataPath, TunnelReceiveLoop> _loops = [];

    public string Description => "one receive thread per tunnel, one datagram per call";

    public Task Add(TunnelDataPath path)
    {
        var loop = new TunnelReceiveLoop(path);
        lock (_loops)
        {
            _loops.Add(path, loop);
        }
        loop.Start();
        return Task.CompletedTask;
    }

    public Task Remove(TunnelDataPath path)
    {
        lock (_loops)
        {
            if (_loops.Remove(path, out var loop))
            {
                loop.Stop();
            }
        }
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_loops)
        {
            foreach (var loop in _loops.Values)
            {
                loop.Stop();
            }
            _loops.Clear();
        }
    }
}
