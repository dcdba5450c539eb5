using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>Settings of the budget stage (section <c>Budget</c>).</summary>
public sealed record BudgetSettings
{
    /// <summary>How often every admitted source's groups are re-sent to the sources stage.</summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an admitted flow that no origin claims is kept before it is released. Defaults to the
    /// PIM Join holdtime (210 s), so a restart or failover never cuts a flow the routers still want.</summary>
    public TimeSpan DemandGrace { get; init; } = TimeSpan.FromSeconds(210);

    /// <summary>An origin that has sent nothing for this long is forgotten (its node is gone).</summary>
    public TimeSpan OriginTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A snapshot of the admitted set is saved after this many events.</summary>
    public int SnapshotEvery { get; init; } = 100;
}

/// <summary>
/// The cluster's single writer of admission decisions (a cluster singleton). It merges the demand of every
/// origin, asks the <see cref="AdmissionPolicy"/> what to admit and release, persists those decisions as events,
/// and tells the sources stage each source's desired groups, at once and again on every reconcile tick.
/// After a failover it recovers the admitted set before it decides anything new.
/// </summary>
public sealed class BandwidthBudgetActor : ReceivePersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "ingest-budget";
    private const int ReleasedSourceTicks = 3;

    private readonly IActorRef _sources;
    private readonly BudgetSettings _settings;
    private readonly TimeProvider _clock;
    private readonly AdmissionPolicy _policy;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly MetricCounter _admitted;
    private readonly MetricCounter _released;
    private readonly Dictionary<IPAddress, int> _releasedSources = [];
    /// <summary>Which node each origin is on (from the sender's address), so a node's demand goes when it does.</summary>
    private readonly Dictionary<string, Address> _originNodes = [];
    private readonly Address _selfAddress = Cluster.Get(Context.System).SelfAddress;
    private readonly HashSet<SourceGroup> _pendingLeft = [];
    private bool _decidePending;
    private BudgetState _state = BudgetState.Empty;
    private int _eventsSinceSnapshot;

    public BandwidthBudgetActor(IActorRef sources, BudgetSettings settings, TimeProvider clock, NodeMetrics metrics)
    {
        _sources = sources;
        _settings = settings;
        _clock = clock;
        _policy = new AdmissionPolicy(settings.DemandGrace);
        _admitted = metrics.Counter("ingest_budget_flows_admitted_total", help: "Flows the budget admitted.");
        _released = metrics.Counter("ingest_budget_flows_released_total", help: "Flows the budget released.");

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is BudgetEvents.BudgetSnapshot snapshot)
            {
                _state = snapshot.Admitted.Aggregate(BudgetState.Empty, (s, e) => s.Apply(e));
            }
        });
        Recover<BudgetEvents.IBudgetEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => OnRecovered());

        Command<DemandProtocol.DemandChanged>(OnDemandChanged);
        Command<DemandProtocol.DemandSnapshot>(OnDemandSnapshot);
        Command<BudgetProtocol.ReconcileTick>(_ => OnReconcileTick());
        Command<BudgetProtocol.DecideNow>(_ => OnDecideNow());
        Command<BudgetProtocol.SourceHandedOff>(m =>
        {
            PushSources([m.Source]);
            Timers.StartSingleTimer($"push-{m.Source}", new BudgetProtocol.PushAgain(m.Source), TimeSpan.FromSeconds(1));
        });
        Command<BudgetProtocol.PushAgain>(m =>
        {
            if (m.Source is { } source)
            {
                PushSources([source]);
            }
            else
            {
                PushSources(_state.DesiredGroupsBySource().Keys);
            }
        });
        Command<ClusterEvent.MemberRemoved>(m => OnMemberGone(m.Member.Address, "removed"));
        Command<ClusterEvent.MemberExited>(m => OnMemberGone(m.Member.Address, "exited"));
        Command<ClusterEvent.IMemberEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<BudgetProtocol.GetAdmitted>(_ => Sender.Tell(new BudgetProtocol.AdmittedFlows(
            [.. _state.Admitted.Keys.OrderBy(f => f.ToString(), StringComparer.Ordinal)],
            [.. _state.Demand.Keys.Order(StringComparer.Ordinal)])));
        Command<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "budget.snapshot_failed: {0}", f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning(f.Cause, "budget.delete_failed: {0}", f.Cause.Message));
    }

    public override string PersistenceId => PersistenceIdValue;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef sources, BudgetSettings settings, TimeProvider clock, NodeMetrics metrics) =>
        Akka.Actor.Props.Create(() => new BandwidthBudgetActor(sources, settings, clock, metrics));

    private DateTimeOffset Now => _clock.GetUtcNow();

    protected override void PreStart()
    {
        base.PreStart();
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent));
    }

    protected override void PostStop()
    {
        Cluster.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    /// <summary>A node left or was downed: forget its origins' demand (its flows stay admitted while any other
    /// origin claims them, and for the grace period otherwise), and re-send every source's groups at once, so the
    /// shards that lived there start on the survivors now, not on the next reconcile tick.</summary>
    private void OnMemberGone(Address node, string how)
    {
        var origins = _originNodes.Where(kv => kv.Value.Equals(node)).Select(kv => kv.Key).ToList();
        foreach (var origin in origins)
        {
            _originNodes.Remove(origin);
        }
        _state = _state.WithoutOrigins(origins);
        _log.Info("budget.member_gone: {0} {1}; forgot {2} origin(s); re-sending every source's groups", node, how, origins.Count);
        if (IsRecoveryFinished)
        {
            Decide([]);
            PushSources(_state.DesiredGroupsBySource().Keys);
            // Again, in case the coordinator had not re-homed the gone node's shards yet (idempotent, cheap).
            Timers.StartSingleTimer("push-all-1", new BudgetProtocol.PushAgain(null), TimeSpan.FromMilliseconds(500));
            Timers.StartSingleTimer("push-all-2", new BudgetProtocol.PushAgain(null), TimeSpan.FromMilliseconds(1500));
        }
    }

    private void NoteOrigin(string origin)
    {
        var address = Sender.Path.Address;
        _originNodes[origin] = address.HasGlobalScope ? address : _selfAddress;
    }

    private void OnRecovered()
    {
        // Grace for recovered flows counts from now: their origins have not had the chance to claim them yet.
        var now = Now;
        _state = _state with { LastClaimed = _state.Admitted.Keys.ToImmutableDictionary(f => f, _ => now) };
        _log.Info("budget.recovered: {0} admitted flow(s) recovered", _state.Admitted.Count);
        Timers.StartPeriodicTimer("reconcile", BudgetProtocol.ReconcileTick.Instance, _settings.ReconcileInterval);
        Self.Tell(BudgetProtocol.ReconcileTick.Instance);
    }

    private void OnDemandChanged(DemandProtocol.DemandChanged changed)
    {
        NoteOrigin(changed.Origin);
        _state = _state.WithDemandChanged(changed.Origin, changed.Flow, changed.Joined, Now);
        DecideSoon(changed.Joined ? [] : [changed.Flow]);
    }

    private void OnDemandSnapshot(DemandProtocol.DemandSnapshot snapshot)
    {
        NoteOrigin(snapshot.Origin);
        var before = _state.Demand.TryGetValue(snapshot.Origin, out var d) ? d.Flows : [];
        _state = _state.WithSnapshot(snapshot.Origin, snapshot.Flows, Now);
        // What this origin had and no longer lists, it has left.
        DecideSoon(before.Except(snapshot.Flows));
    }

    private void OnReconcileTick()
    {
        _state = _state.WithoutSilentOrigins(Now - _settings.OriginTimeout);
        Decide([]);
        foreach (var (source, groups) in _state.DesiredGroupsBySource())
        {
            _sources.Tell(new SourceProtocol.EnsureGroups(source, groups));
        }
        foreach (var source in _releasedSources.Keys.ToList())
        {
            _sources.Tell(new SourceProtocol.EnsureGroups(source, []));
            if (--_releasedSources[source] <= 0)
            {
                _releasedSources.Remove(source);
            }
        }
    }

    /// <summary>Decides once for every demand change already in the mailbox: the decision message goes behind them, so a
    /// burst of 10,000 joins is one evaluation and one batch of events, not 10,000 (and a lone join waits for nothing).</summary>
    private void DecideSoon(IEnumerable<SourceGroup> explicitlyLeft)
    {
        _pendingLeft.UnionWith(explicitlyLeft);
        if (!_decidePending)
        {
            _decidePending = true;
            Self.Tell(BudgetProtocol.DecideNow.Instance);
        }
    }

    private void OnDecideNow()
    {
        _decidePending = false;
        var left = _pendingLeft.ToImmutableHashSet();
        _pendingLeft.Clear();
        Decide(left);
    }

    private void Decide(IEnumerable<SourceGroup> explicitlyLeft)
    {
        var decision = _policy.Evaluate(_state, Now, explicitlyLeft.ToImmutableHashSet());
        if (decision.IsEmpty)
        {
            return;
        }
        var now = Now;
        var events = decision.Admit.Select(f => (BudgetEvents.IBudgetEvent)new BudgetEvents.FlowAdmitted(f, now))
            .Concat(decision.Release.Select(r => new BudgetEvents.FlowReleased(r.Flow, now, r.Reason)))
            .ToList();
        var touchedSources = decision.Admit.Select(f => f.Source)
            .Concat(decision.Release.Select(r => r.Flow.Source))
            .ToHashSet();
        int remaining = events.Count;
        PersistAll(events, e =>
        {
            _state = _state.Apply(e);
            switch (e)
            {
                case BudgetEvents.FlowAdmitted a:
                    _admitted.Increment();
                    _log.Info("budget.admitted: {0}", a.Flow);
                    break;
                case BudgetEvents.FlowReleased r:
                    _released.Increment();
                    _log.Info("budget.released: {0} {1}", r.Flow, r.Reason);
                    break;
            }
            if (--remaining == 0)
            {
                PushSources(touchedSources);
                MaybeSnapshot(events.Count);
            }
        });
    }

    /// <summary>Tells the touched sources their groups now, rather than on the next tick: this is the join path.</summary>
    private void PushSources(IEnumerable<IPAddress> sources)
    {
        var desired = _state.DesiredGroupsBySource();
        foreach (var source in sources)
        {
            if (desired.TryGetValue(source, out var groups))
            {
                _releasedSources.Remove(source);
                _sources.Tell(new SourceProtocol.EnsureGroups(source, groups));
            }
            else
            {
                _releasedSources[source] = ReleasedSourceTicks;
                _sources.Tell(new SourceProtocol.EnsureGroups(source, []));
            }
        }
    }

    private void MaybeSnapshot(int newEvents)
    {
        _eventsSinceSnapshot += newEvents;
        if (_eventsSinceSnapshot >= _settings.SnapshotEvery)
        {
            _eventsSinceSnapshot = 0;
            SaveSnapshot(new BudgetEvents.BudgetSnapshot(
                [.. _state.Admitted.Select(kv => new BudgetEvents.FlowAdmitted(kv.Key, kv.Value))]));
        }
    }
}
