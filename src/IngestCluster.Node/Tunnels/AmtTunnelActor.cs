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
/// socket (one ephemeral port for the tunnel's life) and its <see cref="TunnelReceiveLoop"/>, feeds control
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
    private TunnelReceiveLoop? _loop;
    private ImmutableArray<IPAddress> _groups = [];

    private readonly int _batch;
    private readonly LingeringTunnels? _lingering;
    private volatile bool _detached;

    public AmtTunnelActor(TunnelProtocol.TunnelTarget target, GatewayOptions options, INativeEgress? egress, NodeMetrics metrics, TimeProvider clock, int batch = 1,
        LingeringTunnels? lingering = null)
    {
        _batch = batch;
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
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TunnelProtocol.TunnelTarget target, GatewayOptions options, INativeEgress? egress, NodeMetrics metrics, TimeProvider clock, int batch = 1,
        LingeringTunnels? lingering = null) =>
        Akka.Actor.Props.Create(() => new AmtTunnelActor(target, options, egress, metrics, clock, batch, lingering));

    protected override void PreStart()
    {
        _socket = new Socket(_target.Relay.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        // Room for bursts while the loop is descheduled; the kernel caps it at net.core.rmem_max.
        _socket.ReceiveBufferSize = 4 << 20;
        _socket.Bind(new IPEndPoint(_target.Relay.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
        var self = Self;
        _loop = new TunnelReceiveLoop(_socket, _target.Relay, _egress, bytes =>
        {
            if (!_detached)
            {
                self.Tell(new ControlReceived(bytes));
            }
        }, _metrics, _batch);
        _loop.Start();
        NodeLog.TunnelOpen(_logger, _target.Relay, _target.Source,
            ((IPEndPoint)_socket.LocalEndPoint!).Port, _loop.Batched ? $"batches of {_batch}" : "one datagram per call");
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
        _loop?.Stop();
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
        _lingering.Hold(_socket, _loop, _session, _target.Relay, linger.Duration, _logger);
        Context.Stop(Self);
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
}
