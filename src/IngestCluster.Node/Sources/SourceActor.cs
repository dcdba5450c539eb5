using System.Net;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Sources;

/// <summary>What a source entity needs from the node.</summary>
/// <param name="TunnelProps">Props of the tunnel child for a relay (the AmtTunnelActor in production).</param>
/// <param name="UnderSharding">Passivate through the shard (true) or just stop (false, for tests and hosts
/// without sharding).</param>
public sealed record SourceActorDependencies(
    IRelayResolver Resolver,
    Func<TunnelProtocol.TunnelTarget, Props> TunnelProps,
    SourceSettings Settings,
    NodeMetrics Metrics,
    TimeProvider Time,
    bool UnderSharding = true,
    Func<Random>? RandomFactory = null,
    Action<IPAddress>? HandedOff = null);

/// <summary>
/// One source address, as a sharded entity (entity id = the source address text). It holds the groups the budget
/// wants, finds the source's relay through DRIAD and runs one tunnel child to it, moving to the next relay with
/// backoff when one fails. The logic is <see cref="SourceState"/>; this actor carries out its effects.
/// </summary>
public sealed class SourceActor : ReceiveActor, IWithTimers
{
    private const string RetryTimer = "retry";
    private const string PassivateTimer = "passivate";
    private const string PrepareTimer = "prepare";

    /// <summary>How long a stopping tunnel may take to send its leaves before the entity passivates anyway.</summary>
    private static readonly TimeSpan LeaveGrace = TimeSpan.FromSeconds(5);

    private readonly SourceActorDependencies _deps;
    private readonly Random _random;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(SourceActor));
    private readonly MetricCounter _tunnelsStarted, _relayFailures;
    private readonly MetricTally _tunnelStates;
    private SourceState _state;
    private IActorRef? _tunnel;
    private readonly HashSet<IActorRef> _stopping = [];
    private bool _passivatePending;
    private int _tunnelNumber;

    public SourceActor(IPAddress source, SourceActorDependencies deps)
    {
        _deps = deps;
        _random = deps.RandomFactory?.Invoke() ?? new Random();
        _state = SourceState.Initial(source);
        _tunnelsStarted = deps.Metrics.Counter("ingest_source_tunnels_started_total", "", "Tunnels started by source entities");
        _relayFailures = deps.Metrics.Counter("ingest_source_relay_failures_total", "", "Relays that failed and were held down");
        _tunnelStates = TunnelStates(deps.Metrics);

        Receive<SourceProtocol.EnsureGroups>(m => Handle(new SourceInput.DesiredGroups(m.Groups)));
        Receive<SourceProtocol.Prepare>(_ => Handle(SourceInput.Prepare.Instance));
        Receive<PrepareDeadline>(_ => Handle(SourceInput.PrepareOver.Instance));
        Receive<SourceProtocol.GetSourceStatus>(_ => Sender.Tell(_state.ToStatus(_deps.Time.GetUtcNow()) with
        {
            Node = Context.System is ExtendedActorSystem { Provider: Akka.Cluster.ClusterActorRefProvider }
                ? Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString()
                : "",
            Counters = [.. _state.Groups.Select(g =>
            {
                var (packets, bytes, drops) = _deps.Metrics.FlowTotals(new SourceGroup(_state.Source, g));
                return new SourceProtocol.GroupCounters(g.ToString(), packets, bytes, drops);
            })],
        }));
        Receive<ResolveFinished>(m => Handle(new SourceInput.Resolved(m.Outcome, m.Attempt)));
        Receive<RetryDue>(m => Handle(new SourceInput.RetryDue(m.Attempt)));
        Receive<TunnelProtocol.TunnelFailed>(m =>
        {
            if (Sender.Equals(_tunnel))
            {
                _relayFailures.Increment();
                _deps.Metrics.FailoverEvent("relay");
                Handle(new SourceInput.RelayFailed(m.Relay, m.Reason, m.HoldDown));
            }
        });
        Receive<TunnelProtocol.TunnelStateChanged>(m =>
        {
            if (Sender.Equals(_tunnel))
            {
                _tunnelStates.Set(TallyKey, m.State);
                Handle(new SourceInput.TunnelReported(m.Relay, m.State, m.Detail));
            }
        });
        Receive<Terminated>(m =>
        {
            if (_stopping.Remove(m.ActorRef))
            {
                if (_passivatePending && _stopping.Count == 0)
                {
                    PassivateNow();
                }
            }
            else if (m.ActorRef.Equals(_tunnel) && _state.Current is { } current)
            {
                // The child stopped without saying why: treat it as a failed relay.
                _tunnel = null;
                _tunnelStates.Remove(TallyKey);
                _relayFailures.Increment();
                _deps.Metrics.FailoverEvent("relay");
                Handle(new SourceInput.RelayFailed(current.Relay, "tunnel actor stopped", TimeSpan.Zero));
            }
        });
        Receive<PassivateDeadline>(_ =>
        {
            if (_passivatePending)
            {
                PassivateNow();
            }
        });
        Receive<SourceProtocol.HandOff>(_ => HandOff());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary><c>ingest_tunnels{state}</c>: this node's tunnels by the state their gateway session last reported
    /// (FRR-style names from <see cref="GatewayState"/>; <c>Starting</c> until the first report).</summary>
    public static MetricTally TunnelStates(NodeMetrics metrics) =>
        metrics.Tally("ingest_tunnels", "state", "AMT tunnels on this node, by gateway state.",
            ["Starting", .. Enum.GetNames<GatewayState>()]);

    private string TallyKey => _state.Source.ToString();

    protected override void PostStop()
    {
        if (!_state.Groups.IsEmpty)
        {
            // Stopped with groups (handed off to another node, or the node is leaving): this entity joins nothing more.
            NodeLog.SourceStopped(_logger, _state.Source.ToString(), string.Join(",", _state.Groups), _deps.Time.GetUtcNow());
        }
        // Passivated, handed off or stopped: this node carries none of the source's flows any more.
        _tunnelStates.Remove(TallyKey);
        foreach (var group in _state.Groups)
        {
            _deps.Metrics.EndFlow(_state.Source, group);
        }
        base.PostStop();
    }

    public static Props Props(IPAddress source, SourceActorDependencies deps) =>
        Akka.Actor.Props.Create(() => new SourceActor(source, deps));

    /// <summary>Props for the shard region's entity factory: the entity id is the source address text.</summary>
    public static Props PropsForEntity(string entityId, SourceActorDependencies deps)
    {
        if (!IPAddress.TryParse(entityId, out var source))
        {
            throw new ArgumentException($"source entity id '{entityId}' is not an IP address", nameof(entityId));
        }
        return Props(source, deps);
    }

    private void Handle(SourceInput input)
    {
        var before = _state;
        var (next, effects) = _state.Process(input, _deps.Time.GetUtcNow(), _deps.Settings, _random);
        _state = next;
        foreach (var group in before.Groups)
        {
            if (!next.Groups.Contains(group))
            {
                // The flow ended here: its per-(S,G) series leave /metrics.
                _deps.Metrics.EndFlow(next.Source, group);
            }
        }
        if (_passivatePending && !next.Groups.IsEmpty)
        {
            // Groups came back before the entity went away: stay.
            _passivatePending = false;
            Timers.Cancel(PassivateTimer);
        }
        if (!before.Groups.SequenceEqual(next.Groups))
        {
            // What this entity is told to join, as it changes: with the budget's journal, the record of what reached
            // the sources (the failover test reads it back).
            NodeLog.SourceGroups(_logger, next.Source.ToString(), string.Join(",", next.Groups), string.Join(",", before.Groups), _deps.Time.GetUtcNow());
        }
        if (before.Phase != next.Phase || before.Detail != next.Detail)
        {
            NodeLog.SourceState(_logger, next.Source.ToString(), before.Phase.ToString(), next.Phase.ToString(), next.Detail);
        }
        foreach (var effect in effects)
        {
            Carry(effect);
        }
    }

    private void Carry(SourceEffect effect)
    {
        switch (effect)
        {
            case SourceEffect.StartResolve resolve:
                Timers.Cancel(RetryTimer);
                var source = _state.Source;
                int attempt = resolve.Attempt;
                _deps.Resolver.ResolveAsync(source).PipeTo(
                    Self,
                    success: outcome => new ResolveFinished(outcome, attempt),
                    failure: e => new ResolveFinished(new DriadOutcome.DnsFailure(source, e.GetBaseException().Message), attempt));
                break;

            case SourceEffect.StartTunnel start:
                StopTunnel();
                _tunnel = Context.ActorOf(_deps.TunnelProps(start.Target), $"tunnel-{++_tunnelNumber}");
                Context.Watch(_tunnel);
                _tunnelStates.Set(TallyKey, "Starting");
                _tunnelsStarted.Increment();
                break;

            case SourceEffect.SendGroups send:
                _tunnel?.Tell(new TunnelProtocol.SetGroups(send.Groups));
                break;

            case SourceEffect.StopTunnel:
                StopTunnel();
                break;

            case SourceEffect.SchedulePrepareOver prepare:
                Timers.StartSingleTimer(PrepareTimer, PrepareDeadline.Instance, prepare.Delay);
                break;

            case SourceEffect.ScheduleRetry retry:
                Timers.StartSingleTimer(RetryTimer, new RetryDue(retry.Attempt), retry.Delay);
                break;

            case SourceEffect.Passivate:
                Timers.Cancel(RetryTimer);
                if (_stopping.Count == 0)
                {
                    PassivateNow();
                }
                else
                {
                    // Let the stopping tunnel process its SetGroups(empty) (its leaves) first.
                    _passivatePending = true;
                    Timers.StartSingleTimer(PassivateTimer, PassivateDeadline.Instance, LeaveGrace);
                }
                break;
        }
    }

    /// <summary>Sharding moves this entity to another node. Make before break: the tunnel lingers, still forwarding,
    /// and the budget is asked to tell the source's new home its groups now; this entity stops once the tunnel has
    /// detached (a Stop of ours would reach the child before our Linger message).</summary>
    private void HandOff()
    {
        Timers.CancelAll();
        _deps.Metrics.FailoverEvent("source_handoff");
        _deps.HandedOff?.Invoke(_state.Source);
        if (_tunnel is null)
        {
            Context.Stop(Self);
            return;
        }
        NodeLog.SourceHandOff(_logger, _state.Source.ToString(), _deps.Settings.HandOffLinger);
        _tunnel.Tell(new TunnelProtocol.Linger(_deps.Settings.HandOffLinger));
        _stopping.Add(_tunnel);
        _tunnel = null;
        _tunnelStates.Remove(TallyKey);
        _passivatePending = false;
        Become(HandingOff);
        Timers.StartSingleTimer(PassivateTimer, PassivateDeadline.Instance, LeaveGrace);
    }

    private void HandingOff()
    {
        Receive<Terminated>(m =>
        {
            if (_stopping.Remove(m.ActorRef) && _stopping.Count == 0)
            {
                Context.Stop(Self);
            }
        });
        Receive<PassivateDeadline>(_ => Context.Stop(Self));
        // Anything else for this source goes to its new home: sharding buffers it during the hand-off.
        ReceiveAny(_ => { });
    }

    private void PassivateNow()
    {
        _passivatePending = false;
        Timers.CancelAll();
        if (_deps.UnderSharding)
        {
            Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        }
        else
        {
            Context.Stop(Self);
        }
    }

    /// <summary>Stops the tunnel through its mailbox (a PoisonPill after anything already sent, such as the
    /// empty SetGroups that makes it leave), and watches it until it has gone.</summary>
    private void StopTunnel()
    {
        if (_tunnel is null)
        {
            return;
        }
        _tunnel.Tell(PoisonPill.Instance);
        _stopping.Add(_tunnel);
        _tunnel = null;
        _tunnelStates.Remove(TallyKey);
    }

    private sealed record ResolveFinished(DriadOutcome Outcome, int Attempt) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed record RetryDue(int Attempt) : Akka.Actor.INoSerializationVerificationNeeded;

    private sealed class PassivateDeadline : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly PassivateDeadline Instance = new();
    }

    private sealed class PrepareDeadline : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly PrepareDeadline Instance = new();
    }
}
