using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tunnels;

/// <summary>
/// One AMT tunnel to one relay, for one source: a child of its SourceActor. The actor owns the tunnel's UDP
/// socket (one ephemeral port for the tunnel's life, opened as <see cref="TunnelSocketOptions"/> says) and its
/// <see cref="TunnelDataPath"/>, registered with the node's <see cref="ITunnelReceiver"/>; it feeds control
/// messages, timers and the desired groups to the pure <see cref="AmtGatewaySession"/>, and carries out what
/// the session returns. When the session gives up, the actor tells its parent and stops; stopping sends BLOCK
/// for every joined group and closes the socket, which ends the receive loop.
/// </summary>
public sealed class AmtTunnelActor : ReceiveActor, IWithTimers
{
    private readonly TunnelProtocol.TunnelTarget _target;
    private readonly INativeEgress? _egress;
    private readonly NodeMetrics _metrics;
    private readonly TimeProvider _clock;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(AmtTunnelActor));
    private readonly AmtGatewaySession _session;
    private readonly MetricCounter _sendErrors;
    private Socket? _socket;
    private TunnelDataPath? _loop;
    private ImmutableArray<IPAddress> _groups = [];

    private readonly ITunnelReceiver _receiver;
    private readonly TunnelSocketOptions _sockets;
    private readonly LingeringTunnels? _lingering;
    private volatile bool _detached;
    private long _lastBytes;
    private int _receiveBuffer;

    public AmtTunnelActor(TunnelProtocol.TunnelTarget target, GatewayOptions options, INativeEgress? egress, NodeMetrics metrics, TimeProvider clock,
        ITunnelReceiver receiver, TunnelSocketOptions? sockets = null, LingeringTunnels? lingering = null)
    {
        _receiver = receiver;
        _sockets = sockets ?? TunnelSocketOptions.Default;
        _lingering = lingering;
        _target = target;
        _egress = egress;
        _metrics = metrics;
        _clock = clock;
        _session = new AmtGatewaySession(target.Source, target.SkipDiscovery, options, clock);
        _sendErrors = metrics.Counter("ingest_tunnel_send_errors_total", help: "AMT control messages the tunnels could not send.");

        Receive<TunnelProtocol.SetGroups>(OnSetGroups);
        Receive<ControlReceived>(m => Execute(_session.OnMessage(m.Message)));
        Receive<TimerFired>(t => Execute(_session.OnTimer(t.Timer, LastDataAt())));
        Receive<TunnelProtocol.GetTunnelStatus>(_ => Sender.Tell(Status()));
        Receive<TunnelProtocol.Linger>(OnLinger);
        Receive<SizeReceiveBuffer>(_ => OnSizeReceiveBuffer());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TunnelProtocol.TunnelTarget target, GatewayOptions options, INativeEgress? egress, NodeMetrics metrics, TimeProvider clock,
        ITunnelReceiver receiver, TunnelSocketOptions? sockets = null, LingeringTunnels? lingering = null) =>
        Akka.Actor.Props.Create(() => new AmtTunnelActor(target, options, egress, metrics, clock, receiver, sockets, lingering));

    protected override void PreStart()
    {
        // Bound to the chosen upstream (Tunnels:Interface, Tunnels:SourceAddress) when set; the receive buffer starts
        // at its floor and follows the measured rate (OnSizeReceiveBuffer).
        _socket = _sockets.OpenSocket(_target.Relay);
        _receiveBuffer = _sockets.ReceiveBufferFloor;
        var self = Self;
        _loop = new TunnelDataPath(_socket, _target.Relay, _egress, bytes =>
        {
            if (!_detached)
            {
                self.Tell(new ControlReceived(bytes));
            }
        }, _metrics);
        _ = _receiver.Add(_loop);
        Timers.StartPeriodicTimer("receive-buffer", SizeReceiveBuffer.Instance, RateInterval);
        var local = (IPEndPoint)_socket.LocalEndPoint!;
        NodeLog.TunnelOpen(_logger, _target.Relay, _target.Source, local.Port,
            (_sockets.Interface is { } device ? $"on {device}, " : "") +
            (local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? _receiver.Description : $"from {local.Address}, {_receiver.Description}"));
        Execute(_session.Start(_groups));
    }

    protected override void PostStop()
    {
        if (_detached)
        {
            NodeLog.TunnelDetached(_logger, _target.Relay, _target.Source);
            return;
        }
        Execute(_session.Stop());
        if (_loop is not null)
        {
            _ = _receiver.Remove(_loop);
        }
        _socket?.Dispose();
        NodeLog.TunnelClosed(_logger, _target.Relay, _target.Source);
    }

    private void OnSetGroups(TunnelProtocol.SetGroups message)
    {
        var groups = message.Groups.Distinct().OrderBy(g => g.ToString(), StringComparer.Ordinal).ToImmutableArray();
        if (groups.SequenceEqual(_groups))
        {
            return;
        }
        _groups = groups;
        if (_loop is not null)
        {
            // Data is accepted for every desired group at once: the relay may start before our ALLOW is repeated.
            _loop.Flows = _loop.Flows.With(groups.Select(g => new SourceGroup(_target.Source, g)), _metrics);
        }
        Execute(_session.SetGroups(groups));
    }

    /// <summary>Make before break: hand the socket, loop and session to the node's lingering set and stop without
    /// leaving; the set sends the BLOCKs when the linger ends.</summary>
    private void OnLinger(TunnelProtocol.Linger linger)
    {
        if (_lingering is null || _socket is null || _loop is null || _detached)
        {
            Context.Stop(Self);
            return;
        }
        _detached = true;
        Timers.CancelAll();
        _lingering.Hold(_loop, _receiver, _session, _target.Relay, linger.Duration, _logger);
        Context.Stop(Self);
    }

    private static readonly TimeSpan RateInterval = TimeSpan.FromSeconds(1);

    /// <summary>Sizes the receive buffer from the rate measured over the last interval (the flows' forwarded
    /// bytes); changed only when the wanted size is off by more than half, so a steady flow costs no system call.</summary>
    private void OnSizeReceiveBuffer()
    {
        if (_socket is null || _loop is null)
        {
            return;
        }
        long bytes = _loop.Flows.Flows.Sum(f => f.Bytes);
        long rate = (long)(Math.Max(0, bytes - _lastBytes) / RateInterval.TotalSeconds);
        _lastBytes = bytes;
        int wanted = _sockets.ReceiveBufferFor(rate);
        if (wanted > _receiveBuffer * 3 / 2 || wanted < _receiveBuffer / 2)
        {
            try
            {
                TunnelSocketOptions.SetReceiveBuffer(_socket, wanted);
                NodeLog.TunnelReceiveBuffer(_logger, _target.Relay, wanted, rate);
                _receiveBuffer = wanted;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Kept as it was; the next interval tries again.
            }
        }
    }

    private DateTimeOffset? LastDataAt()
    {
        long last = _loop?.LastDataTickCount ?? 0;
        return last == 0 ? null : _clock.GetUtcNow() - TimeSpan.FromMilliseconds(Environment.TickCount64 - last);
    }

    private void Execute(IReadOnlyList<GatewayAction> actions)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case SendToRelay send:
                    try
                    {
                        _socket?.SendTo(send.Message, _target.Relay);
                    }
                    catch (SocketException e)
                    {
                        _sendErrors.Increment();
                        NodeLog.TunnelSendFailed(_logger, send.Type.ToString(), _target.Relay, e.SocketErrorCode);
                    }
                    break;
                case ArmTimer arm:
                    Timers.StartSingleTimer(arm.Timer, new TimerFired(arm.Timer), arm.Delay);
                    break;
                case CancelTimer cancel:
                    Timers.Cancel(cancel.Timer);
                    break;
                case GatewayStateChanged changed:
                    NodeLog.TunnelState(_logger, _target.Relay, _target.Source, changed.From.ToString(), changed.To.ToString(), changed.Reason);
                    Context.Parent.Tell(new TunnelProtocol.TunnelStateChanged(_target.Relay, changed.To.ToString(), changed.Reason));
                    break;
                case GatewayGaveUp gaveUp:
                    NodeLog.TunnelGaveUp(_logger, _target.Relay, _target.Source, gaveUp.Reason, gaveUp.HoldDown);
                    Context.Parent.Tell(new TunnelProtocol.TunnelFailed(_target.Relay, gaveUp.Reason, gaveUp.HoldDown));
                    Context.Stop(Self);
                    break;
            }
        }
    }

    private TunnelProtocol.TunnelStatus Status()
    {
        var flows = _loop?.Flows.Flows.ToList() ?? [];
        return new TunnelProtocol.TunnelStatus(
            _target.Relay.ToString(),
            _session.State.ToString(),
            _session.LastReason,
            [.. _session.Announced.Select(g => g.ToString()).Order(StringComparer.Ordinal)],
            flows.Sum(f => f.Packets),
            flows.Sum(f => f.Bytes),
            flows.Sum(f => f.TtlExpired + f.SendErrors));
    }

    private sealed record ControlReceived(byte[] Message) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed record TimerFired(GatewayTimer Timer) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed class SizeReceiveBuffer : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly SizeReceiveBuffer Instance = new();
    }
}
