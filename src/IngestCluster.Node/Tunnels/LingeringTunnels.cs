using System.Net;
using System.Net.Sockets;
using IngestCluster.Node.Hosting;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// Tunnels whose source entity moved to another node (a graceful leave or a rebalance): make before break. The
/// tunnel's socket, receive loop and gateway session are kept here, still forwarding, for the linger time, so the
/// new home's tunnel carries the flow before this one leaves; then the BLOCKs are sent (the session's own leave,
/// with the latest MAC and nonce) and the socket closed. One per node; CoordinatedShutdown waits for it to drain.
/// </summary>
public sealed class LingeringTunnels
{
    private readonly object _gate = new();
    private readonly HashSet<Lingering> _held = [];
    private TaskCompletionSource _drained = Completed();

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Keeps the tunnel forwarding for <paramref name="linger"/>, then leaves and closes it.</summary>
    public void Hold(TunnelDataPath path, ITunnelReceiver receiver, AmtGatewaySession session, IPEndPoint relay, TimeSpan linger, Microsoft.Extensions.Logging.ILogger log)
    {
        var held = new Lingering(path, receiver, session, relay, log);
        lock (_gate)
        {
            if (_held.Count == 0)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            _held.Add(held);
        }
        held.Timer = new Timer(_ => Release(held), null, linger, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Completes when every held tunnel has left, or at once when none is held.</summary>
    public Task Drained
    {
        get
        {
            lock (_gate)
            {
                return _drained.Task;
            }
        }
    }

    /// <summary>Leaves and closes every held tunnel now (shutdown ran out of time).</summary>
    public void ReleaseAll()
    {
        Lingering[] all;
        lock (_gate)
        {
            all = [.. _held];
        }
        foreach (var held in all)
        {
            Release(held);
        }
    }

    private void Release(Lingering held)
    {
        lock (_gate)
        {
            if (!_held.Remove(held))
            {
                return;
            }
        }
        held.Close();
        lock (_gate)
        {
            if (_held.Count == 0)
            {
                _drained.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    private sealed class Lingering(TunnelDataPath path, ITunnelReceiver receiver, AmtGatewaySession session, IPEndPoint relay, Microsoft.Extensions.Logging.ILogger log)
    {
        public Timer? Timer { get; set; }

        public void Close()
        {
            Timer?.Dispose();
            int sent = 0;
            foreach (var action in session.Stop())
            {
                if (action is SendToRelay send)
                {
                    try
                    {
                        path.Socket.SendTo(send.Message, relay);
                        sent++;
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        // The leave is best effort: the relay times the tunnel out anyway.
                    }
                }
            }
            _ = receiver.Remove(path);
            path.Socket.Dispose();
            NodeLog.TunnelLingerEnded(log, relay, sent);
        }
    }
}
