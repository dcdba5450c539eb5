using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using IngestCluster.Node.Budget.Metadata;
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

    /// <summary>A snapshot of the budget's state is saved after this many events, or after half as many events as
    /// there are admitted flows when that is more.</summary>
    public int SnapshotEvery { get; init; } = 100;

    /// <summary>What all admitted flows together may use (<c>Budget:Limit</c>); null for no limit, when every
    /// demanded flow is admitted and no metadata is fetched. The admin API can override it at run time.</summary>
    public Bitrate? Limit { get; init; }

    /// <summary>The bitrate assumed for a flow without CBACC metadata (<c>Budget:DefaultBitrate</c>); null: such a
    /// flow counts as larger than any limit, and is blocked.</summary>
    public Bitrate? DefaultBitrate { get; init; }

    /// <summary>How long a blocked (or dropped) flow is left alone before it is considered again.</summary>
    public TimeSpan BlockedHoldDown { get; init; } = TimeSpan.FromSeconds(150);

    /// <summary>How long a new flow waits for its metadata before it is decided without it (a slow DORMS never
    /// holds up the other flows, which are decided meanwhile).</summary>
    public TimeSpan MetadataWait { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How metadata is found and fetched (DORMS, <c>Budget:Metadata:*</c>).</summary>
    public MetadataSettings Metadata { get; init; } = new();
}

/// <summary>
/// The cluster's single writer of admission decisions (a cluster singleton). It merges the demand of every origin,
/// asks its <see cref="FlowMetadataActor"/> child how big each new flow is (CBACC from DORMS), lets
/// <see cref="BandwidthPolicy"/> decide what to admit, block and release under the limit, persists those decisions
/// as events, and only then tells the sources stage each source's desired groups (at once, and again on every
/// reconcile tick). After a failover it recovers the admitted set, the hold-downs and the run-time limit before it
/// decides anything new. When the journal fails it stops (its supervisor restarts it with backoff): the sources keep
/// what they were told, and nothing new is admitted until the decision can be persisted.
/// </summary>
public sealed class BandwidthBudgetActor : ReceivePersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "ingest-budget";
    private const int ReleasedSourceTicks = 3;
    private const string HoldDownTimer = "hold-down-over";
    /// <summary>A decision with more events than this is logged as one summary line (each event at Debug).</summary>
    private const int EachLoggedUpTo = 32;

    /// <summary>New flows that arrive this close together wait in one cohort and are ranked together (one joinfile
    /// read, one PIM Join/Prune message, receivers joining at once), whichever of their fetches ends first.</summary>
    private static readonly TimeSpan CohortGather = TimeSpan.FromMilliseconds(50);

    private readonly IActorRef _sources;
    private readonly BudgetSettings _settings;
    private readonly TimeProvider _clock;
    private readonly Props? _metadataProps;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(BandwidthBudgetActor));
    private readonly MetricCounter _admitted;
    private readonly MetricCounter _released;
    private readonly MetricCounter _blocked;
    private readonly MetricCounter _persistFailures;
    private readonly MetricCounter _recoveryFailures;
    private readonly NodeMetrics _metrics;
    private readonly Dictionary<IPAddress, int> _releasedSources = [];
    /// <summary>Which node each origin is on (from the sender's address), so a node's demand goes when it does.</summary>
    private readonly Dictionary<string, Address> _originNodes = [];
    private readonly Address _selfAddress = Cluster.Get(Context.System).SelfAddress;
    private readonly HashSet<SourceGroup> _pendingLeft = [];
    /// <summary>What the metadata child said of each flow (soft: a new singleton asks again).</summary>
    private readonly Dictionary<SourceGroup, MetadataEntry> _metadata = [];
    /// <summary>Flows whose metadata was asked for and has not come, with since when.</summary>
    private readonly Dictionary<SourceGroup, DateTimeOffset> _pending = [];
    /// <summary>New flows held back until their cohort's metadata is in (or its wait is over), by flow.</summary>
    private readonly Dictionary<SourceGroup, Cohort> _waiting = [];
    private readonly Dictionary<int, Cohort> _cohorts = [];
    private int _nextCohort;
    private IActorRef? _metadataActor;
    private bool _decidePending;
    private BudgetState _state = BudgetState.Empty;
    private int _eventsSinceSnapshot;

    public BandwidthBudgetActor(IActorRef sources, BudgetSettings settings, TimeProvider clock, NodeMetrics metrics, Props? metadataProps,
        string persistenceId = PersistenceIdValue)
    {
        PersistenceId = persistenceId;
        _sources = sources;
        _settings = settings;
        _clock = clock;
        _metadataProps = metadataProps;
        _metrics = metrics;
        _admitted = metrics.Counter("ingest_budget_flows_admitted_total", help: "Flows the budget admitted.");
        _released = metrics.Counter("ingest_budget_flows_released_total", help: "Flows the budget released.");
        _blocked = metrics.Counter("ingest_budget_flows_blocked_total", help: "Times the budget held a flow down (blocked, or dropped for the limit).");
        _persistFailures = metrics.Counter("ingest_budget_journal_failures_total", "stage=\"persist\"", "Budget decisions the journal could not persist, and recoveries it could not serve (the budget restarts with backoff).");
        _recoveryFailures = metrics.Counter("ingest_budget_journal_failures_total", "stage=\"recover\"", "Budget decisions the journal could not persist, and recoveries it could not serve (the budget restarts with backoff).");

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is BudgetEvents.BudgetSnapshot snapshot)
            {
                _state = BudgetState.From(snapshot);
            }
        });
        Recover<BudgetEvents.IBudgetEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => OnRecovered());

        Command<DemandProtocol.DemandChanged>(OnDemandChanged);
        Command<DemandProtocol.DemandSnapshot>(OnDemandSnapshot);
        Command<BudgetProtocol.ReconcileTick>(_ => OnReconcileTick());
        Command<BudgetProtocol.DecideNow>(_ => OnDecideNow());
        Command<MetadataProtocol.FlowMetadataResult>(OnMetadata);
        Command<CohortWaitOver>(m => OnCohortWaitOver(m.Id));
        Command<BudgetProtocol.SetLimit>(OnSetLimit);
        Command<BudgetProtocol.GetBudget>(_ => Sender.Tell(Report()));
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
                PushSources(_state.AdmittedSources());
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
        Command<SaveSnapshotFailure>(f => NodeLog.BudgetSnapshotFailed(_logger, f.Cause, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => NodeLog.BudgetDeleteFailed(_logger, f.Cause, f.Cause.Message));
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef sources, BudgetSettings settings, TimeProvider clock, NodeMetrics metrics, Props? metadataProps = null,
        string persistenceId = PersistenceIdValue) =>
        Akka.Actor.Props.Create(() => new BandwidthBudgetActor(sources, settings, clock, metrics, metadataProps, persistenceId));

    /// <summary>The budget under a backoff supervisor: when the journal fails (a database outage) the budget stops,
    /// and is started again after 1, 2, 4 ... 30 s, recovering from the journal once it answers.</summary>
    public static Props Supervised(Props budget) =>
        Akka.Pattern.BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
            budget, "budget", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1));

    private DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>The limit in force: the run-time one, else the settings'; null for none.</summary>
    private Bitrate? Limit => _state.LimitOverride is { } limit ? new Bitrate(limit) : _settings.Limit;

    /// <summary>Whether new flows wait for metadata: only under a limit, with fetching on.</summary>
    private bool MetadataNeeded => Limit is not null && _metadataActor is not null;

    protected override void PreStart()
    {
        base.PreStart();
        if (_metadataProps is not null && _settings.Metadata.Enabled)
        {
            _metadataActor = Context.ActorOf(_metadataProps, "metadata");
        }
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent));
    }

    protected override void PostStop()
    {
        Cluster.Get(Context.System).Unsubscribe(Self);
        // The singleton leaves this node (or restarts): the budget's gauges are the next incarnation's to publish.
        _metrics.RemoveGauge(UsedGauge);
        _metrics.RemoveGauge(LimitGauge);
        base.PostStop();
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _persistFailures.Increment();
        NodeLog.BudgetJournalFailed(_logger, cause, @event.GetType().Name, cause.Message);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _recoveryFailures.Increment();
        NodeLog.BudgetRecoveryFailed(_logger, reason, reason.Message);
        base.OnRecoveryFailure(reason, message);
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
        NodeLog.BudgetMemberGone(_logger, node.ToString(), how, origins.Count);
        if (IsRecoveryFinished)
        {
            Decide([]);
            PushSources(_state.AdmittedSources());
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
        _state = _state with { Admitted = _state.Admitted.ClaimedAll(now) };
        NodeLog.BudgetRecovered(_logger, _state.Admitted.Count, _state.Blocked.Count, Limit?.ToString() ?? "none");
        Timers.StartPeriodicTimer("reconcile", BudgetProtocol.ReconcileTick.Instance, _settings.ReconcileInterval);
        Self.Tell(BudgetProtocol.ReconcileTick.Instance);
        _metrics.FailoverEvent("budget_recovered");
        PublishGauges();
    }

    private const string UsedGauge = "ingest_budget_used_bits_per_second";
    private const string LimitGauge = "ingest_budget_limit_bits_per_second";

    /// <summary>The budget as gauges, on the node that hosts the singleton: what the admitted flows use (as /budget
    /// reports it) and the limit in force (absent when there is none). Set after each decision, not per scrape: a
    /// scrape must not ask the actor.</summary>
    private void PublishGauges()
    {
        long used = 0;
        foreach (var (flow, bitrate, _) in _state.Admitted.Rates)
        {
            used += (_metadata.TryGetValue(flow, out var entry) && entry.Metadata is { } metadata ? metadata.Bitrate : bitrate).BitsPerSecond;
        }
        _metrics.SetGauge(UsedGauge, "", used, "Bits per second the budget's admitted flows use (the singleton's node only).");
        if (Limit is { } limit)
        {
            _metrics.SetGauge(LimitGauge, "", limit.BitsPerSecond, "The budget's limit in force, bits per second (the singleton's node only; absent for no limit).");
        }
        else
        {
            _metrics.RemoveGauge(LimitGauge);
        }
    }

    private void OnDemandChanged(DemandProtocol.DemandChanged changed)
    {
        NoteOrigin(changed.Origin);
        _state = _state.WithDemandChanged(changed.Origin, changed.Flow, changed.Joined, changed.Population, Now);
        DecideSoon(changed.Joined ? [] : [changed.Flow]);
    }

    private void OnDemandSnapshot(DemandProtocol.DemandSnapshot snapshot)
    {
        NoteOrigin(snapshot.Origin);
        var before = _state.Demand.TryGetValue(snapshot.Origin, out var d) ? d.Flows : ImmutableDictionary<SourceGroup, int>.Empty;
        var flows = ImmutableDictionary.CreateBuilder<SourceGroup, int>();
        for (int i = 0; i < snapshot.Flows.Length; i++)
        {
            flows[snapshot.Flows[i]] = snapshot.PopulationAt(i);
        }
        var now = flows.ToImmutable();
        _state = _state.WithSnapshot(snapshot.Origin, now, Now);
        // What this origin had and no longer lists, it has left.
        DecideSoon(before.Keys.Where(f => !now.ContainsKey(f)));
    }

    private void OnReconcileTick()
    {
        _state = _state.WithoutSilentOrigins(Now - _settings.OriginTimeout);
        PublishGauges();
        RefreshMetadata();
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

    private void OnSetLimit(BudgetProtocol.SetLimit set)
    {
        var replyTo = Sender;
        if (set.BitsPerSecond is < 0)
        {
            replyTo.Tell(new Status.Failure(new ArgumentOutOfRangeException(nameof(set), "a limit is 0 bit/s or more")));
            return;
        }
        var before = Limit;
        Persist(new BudgetEvents.LimitChanged(Now, set.BitsPerSecond), e =>
        {
            _state = _state.Apply(e);
            NodeLog.BudgetLimitChanged(_logger, before?.ToString() ?? "none", Limit?.ToString() ?? "none",
                e.BitsPerSecond is null ? "from the settings" : "set at run time");
            MaybeSnapshot(1);
            RefreshMetadata();
            Decide([]);
            PublishGauges();
            // Behind the decision's events: the report shows the flows the new limit admitted or dropped.
            DeferAsync(e, _ => replyTo.Tell(Report()));
        });
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
        var now = Now;
        _state = _state.WithoutExpiredHolds(now);
        var limit = Limit;
        var demanded = _state.Demanded();
        var flows = ImmutableArray.CreateBuilder<DemandedFlow>(demanded.Count);
        var cohort = new List<SourceGroup>();
        var refresh = new List<SourceGroup>();
        foreach (var (flow, population) in demanded)
        {
            if (_waiting.ContainsKey(flow))
            {
                continue;
            }
            _metadata.TryGetValue(flow, out var entry);
            if (MetadataNeeded && !_state.Admitted.ContainsKey(flow))
            {
                if (entry is not null && entry.Expires <= now && !_state.Blocked.ContainsKey(flow))
                {
                    // A flow to admit is sized by metadata that is still valid: an expired entry (from an earlier
                    // demand of the same flow) is fetched again, as a new flow's would be. A held-down flow keeps
                    // its old entry meanwhile (it is not admitted while held, and it still holds back its
                    // lower-priority siblings); it is refreshed below.
                    _metadata.Remove(flow);
                    entry = null;
                }
                if (entry is null && _settings.MetadataWait > TimeSpan.Zero)
                {
                    // A new flow under a limit waits for its size, with the flows that came with it (so that they
                    // are ranked together); the others are decided meanwhile.
                    cohort.Add(flow);
                    continue;
                }
                if (entry is null || entry.Expires <= now)
                {
                    refresh.Add(flow);
                }
            }
            flows.Add(new DemandedFlow(flow, population, entry?.Metadata));
        }
        StartCohort(cohort, now);
        AskMetadata(refresh, now);

        var input = new PolicyInput
        {
            // No limit: everything fits, and a flow without metadata counts 0 (nothing is fetched either).
            Limit = limit ?? new Bitrate(long.MaxValue),
            DefaultBitrate = limit is null ? _settings.DefaultBitrate ?? Bitrate.Zero : _settings.DefaultBitrate,
            Demanded = flows.ToImmutable(),
            Admitted = _state.Admitted,
            HeldDownUntil = _state.Blocked.ToImmutableDictionary(kv => kv.Key, kv => kv.Value.Until),
            ExplicitlyLeft = explicitlyLeft.ToImmutableHashSet(),
            DemandGrace = _settings.DemandGrace,
            BlockedHoldDown = _settings.BlockedHoldDown,
            Now = now,
        };
        var decision = BandwidthPolicy.Evaluate(input);
        ScheduleHoldDownEnd(decision, demanded, now);
        if (decision.IsEmpty)
        {
            return;
        }

        var events = new List<BudgetEvents.IBudgetEvent>(decision.Admit.Length + decision.Block.Length + decision.Release.Length);
        foreach (var release in decision.Release)
        {
            events.Add(new BudgetEvents.FlowReleased(release.Flow, now, release.Reason));
            if (release.HeldDownUntil is { } until)
            {
                events.Add(new BudgetEvents.FlowBlocked(release.Flow, now, until, BlockReason.Dropped,
                    $"dropped when the admitted flows no longer fitted the limit of {input.Limit}"));
            }
        }
        foreach (var admit in decision.Admit)
        {
            events.Add(new BudgetEvents.FlowAdmitted(admit.Flow, now, admit.Bitrate.BitsPerSecond, admit.Offload));
        }
        foreach (var block in decision.Block)
        {
            events.Add(new BudgetEvents.FlowBlocked(block.Flow, now, block.Until, block.Reason, Why(block)));
        }
        var touchedSources = decision.Admit.Select(a => a.Flow.Source)
            .Concat(decision.Release.Select(r => r.Flow.Source))
            .ToHashSet();
        int remaining = events.Count;
        // A burst (10,000 joins at once) is one summary line at Info and a line per flow at Debug: 10,000 console
        // lines cost the node more than deciding and persisting them.
        bool each = events.Count <= EachLoggedUpTo;
        var level = each ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Debug;
        bool logEach = _logger.IsEnabled(level);
        int admittedCount = 0, releasedCount = 0, blockedCount = 0;
        PersistAll(events, e =>
        {
            _state = _state.Apply(e);
            switch (e)
            {
                case BudgetEvents.FlowAdmitted a:
                    _admitted.Increment();
                    admittedCount++;
                    if (logEach)
                    {
                        string bitrate = new Bitrate(a.BitsPerSecond).ToString(), offload = new Bitrate(a.OffloadBitsPerSecond).ToString();
                        NodeLog.BudgetAdmitted(_logger, level, a.Flow, bitrate, offload);
                    }
                    break;
                case BudgetEvents.FlowReleased r:
                    _released.Increment();
                    releasedCount++;
                    if (logEach)
                    {
                        NodeLog.BudgetReleased(_logger, level, r.Flow, r.Reason.ToString());
                    }
                    break;
                case BudgetEvents.FlowBlocked b:
                    _blocked.Increment();
                    blockedCount++;
                    if (logEach)
                    {
                        NodeLog.BudgetBlocked(_logger, level, b.Flow, b.Until, b.Detail);
                    }
                    break;
            }
            if (--remaining == 0)
            {
                if (!each)
                {
                    NodeLog.BudgetDecided(_logger, admittedCount, releasedCount, blockedCount, events.Count);
                }
                PushSources(touchedSources);
                MaybeSnapshot(events.Count);
                PublishGauges();
            }
        });
    }

    /// <summary>Decides again when the first hold-down of a demanded flow ends, so a raised limit admits it then, not
    /// on some later tick.</summary>
    private void ScheduleHoldDownEnd(PolicyDecision decision, ImmutableDictionary<SourceGroup, int> demanded, DateTimeOffset now)
    {
        var ends = _state.Blocked.Values.Where(b => demanded.ContainsKey(b.Flow)).Select(b => b.Until)
            .Concat(decision.Block.Select(b => b.Until))
            .Concat(decision.Release.Select(r => r.HeldDownUntil).OfType<DateTimeOffset>())
            .Where(until => until > now)
            .ToList();
        if (ends.Count == 0)
        {
            Timers.Cancel(HoldDownTimer);
            return;
        }
        // A little after, so the clock has passed it when the decision runs.
        Timers.StartSingleTimer(HoldDownTimer, BudgetProtocol.DecideNow.Instance, ends.Min() - now + TimeSpan.FromMilliseconds(20));
    }

    private void AskMetadata(IEnumerable<SourceGroup> flows, DateTimeOffset now)
    {
        foreach (var flow in flows)
        {
            if (_pending.TryAdd(flow, now))
            {
                _metadataActor!.Tell(new MetadataProtocol.GetFlowMetadata(flow));
            }
        }
    }

    /// <summary>Holds these new flows back until each has its metadata or <see cref="BudgetSettings.MetadataWait"/>
    /// is over, whichever is first.</summary>
    private void StartCohort(List<SourceGroup> flows, DateTimeOffset now)
    {
        if (flows.Count == 0)
        {
            return;
        }
        PrepareSources(flows);
        var open = _cohorts.Values.FirstOrDefault(c => c.Since + CohortGather > now);
        if (open is not null)
        {
            open.Flows.AddRange(flows);
            foreach (var flow in flows)
            {
                _waiting[flow] = open;
            }
            AskMetadata(flows, now);
            return;
        }
        var cohort = new Cohort(_nextCohort++, now, flows);
        _cohorts[cohort.Id] = cohort;
        foreach (var flow in flows)
        {
            _waiting[flow] = cohort;
        }
        AskMetadata(flows, now);
        Timers.StartSingleTimer($"cohort-{cohort.Id}", new CohortWaitOver(cohort.Id), _settings.MetadataWait);
    }

    /// <summary>While the metadata is fetched, the sources of these waiting flows look up their relays and open their
    /// tunnels, joining nothing (<see cref="SourceProtocol.Prepare"/>), so an admission only has to join. Not a
    /// decision, so nothing is persisted for it; a source with admitted flows already has its tunnel and ignores it.</summary>
    private void PrepareSources(List<SourceGroup> flows)
    {
        foreach (var source in flows.Select(f => f.Source).Distinct())
        {
            _sources.Tell(new SourceProtocol.Prepare(source));
        }
    }

    private void EndCohort(Cohort cohort)
    {
        _cohorts.Remove(cohort.Id);
        Timers.Cancel($"cohort-{cohort.Id}");
        foreach (var flow in cohort.Flows)
        {
            _waiting.Remove(flow);
        }
        DecideSoon([]);
    }

    /// <summary>Asks again for what has expired, for the flows demanded now (admitted ones keep their old size
    /// meanwhile), and forgets what nobody demands.</summary>
    private void RefreshMetadata()
    {
        if (!MetadataNeeded)
        {
            return;
        }
        var now = Now;
        var demanded = _state.Demanded();
        foreach (var flow in _metadata.Keys.Where(f => !demanded.ContainsKey(f)).ToList())
        {
            _metadata.Remove(flow);
        }
        foreach (var flow in demanded.Keys)
        {
            bool stale = !_metadata.TryGetValue(flow, out var entry) || entry.Expires <= now;
            if (stale && _state.Admitted.ContainsKey(flow))
            {
                AskMetadata([flow], now);
            }
        }
    }

    /// <summary>The block's sentence; for a flow without metadata, with what the fetch found (the DORMS failure, or no
    /// answer yet), so an operator sees why without reading the log.</summary>
    private string Why(FlowBlock block)
    {
        if (block.Reason != BlockReason.NoMetadata)
        {
            return block.Sentence;
        }
        string found = _metadata.TryGetValue(block.Flow, out var entry) && entry.Metadata is null
            ? entry.From
            : $"DORMS did not answer within Budget:MetadataWait ({_settings.MetadataWait.TotalSeconds:0.#} s)";
        return $"{block.Sentence}: {found}";
    }

    private void OnMetadata(MetadataProtocol.FlowMetadataResult result)
    {
        _pending.Remove(result.Flow);
        var entry = result.Result is MetadataResult.Found found
            ? new MetadataEntry(new FlowMetadata(new Bitrate(found.Metadata.BitsPerSecond), found.Metadata.Priority), "cbacc", found.Expires)
            : new MetadataEntry(null, result.Result.Detail, result.Result.Expires);
        bool changed = !_metadata.TryGetValue(result.Flow, out var old) || old.Metadata != entry.Metadata;
        _metadata[result.Flow] = entry;
        if (changed && entry.Metadata is null)
        {
            NodeLog.BudgetNoMetadata(_logger, result.Flow, entry.From);
        }
        if (_waiting.TryGetValue(result.Flow, out var cohort))
        {
            if (cohort.Flows.All(_metadata.ContainsKey))
            {
                EndCohort(cohort);
            }
        }
        else if (changed)
        {
            DecideSoon([]);
        }
    }

    /// <summary>The cohort's flows that have no metadata yet are decided without it (their fetch goes on; its answer
    /// re-decides them).</summary>
    private void OnCohortWaitOver(int id)
    {
        if (!_cohorts.TryGetValue(id, out var cohort))
        {
            return;
        }
        var now = Now;
        foreach (var flow in cohort.Flows)
        {
            _metadata.TryAdd(flow, new MetadataEntry(null,
                $"no metadata within Budget:MetadataWait ({SettingsReader.Format(_settings.MetadataWait)})", now + _settings.MetadataWait));
        }
        EndCohort(cohort);
    }

    private BudgetProtocol.BudgetReport Report()
    {
        var demanded = _state.Demanded();
        var limit = Limit;
        var admitted = _state.Admitted
            .Select(kv =>
            {
                _metadata.TryGetValue(kv.Key, out var entry);
                var bitrate = entry?.Metadata?.Bitrate ?? kv.Value.Bitrate;
                // Without metadata under a limit: the configured default, or the bitrate it was admitted with (kept
                // while metadata is missing), and why there is none when a fetch failed.
                string from = entry?.Metadata is not null ? "cbacc"
                    : limit is null ? "no limit"
                    : (kv.Value.Bitrate == _settings.DefaultBitrate ? "default" : "as admitted")
                        + (entry is not null ? $" ({entry.From})" : "");
                return new BudgetProtocol.AdmittedView(kv.Key, bitrate.BitsPerSecond, kv.Value.Offload,
                    demanded.GetValueOrDefault(kv.Key), from);
            })
            .OrderBy(a => a.Flow.ToString(), StringComparer.Ordinal)
            .ToImmutableArray();
        var blocked = _state.Blocked.Values
            .Where(b => b.Until > Now)
            .Select(b => new BudgetProtocol.BlockedView(b.Flow, b.Until, b.Reason.ToString(), b.Detail, demanded.GetValueOrDefault(b.Flow)))
            .OrderBy(b => b.Flow.ToString(), StringComparer.Ordinal)
            .ToImmutableArray();
        var pending = _waiting.Select(kv => new BudgetProtocol.PendingView(kv.Key, kv.Value.Since))
            .OrderBy(p => p.Flow.ToString(), StringComparer.Ordinal)
            .ToImmutableArray();
        return new BudgetProtocol.BudgetReport(
            limit?.BitsPerSecond,
            _state.LimitOverride is not null ? "admin" : limit is not null ? "settings" : "none",
            admitted.Sum(a => a.BitsPerSecond),
            admitted, blocked, pending,
            [.. _state.Demand.Keys.Order(StringComparer.Ordinal)]);
    }

    /// <summary>Tells the touched sources their groups now, rather than on the next tick: this is the join path.</summary>
    private void PushSources(IEnumerable<IPAddress> sources)
    {
        var desired = _state.DesiredGroupsOf(sources as IReadOnlySet<IPAddress> ?? sources.ToHashSet());
        foreach (var (source, groups) in desired)
        {
            if (!groups.IsEmpty)
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
        // A snapshot writes the whole admitted set: with many flows, one every SnapshotEvery events would cost more
        // than the events. Waiting for half as many events as there are admitted flows keeps its cost per event
        // bounded, and recovery still reads at most that tail after the snapshot.
        if (_eventsSinceSnapshot >= Math.Max(_settings.SnapshotEvery, _state.Admitted.Count / 2))
        {
            _eventsSinceSnapshot = 0;
            SaveSnapshot(_state.ToSnapshot());
        }
    }

    /// <summary>What the metadata child last said of a flow: its CBACC data (null: none), where that came from or why
    /// there is none, and until when it holds.</summary>
    private sealed record MetadataEntry(FlowMetadata? Metadata, string From, DateTimeOffset Expires);

    /// <summary>New flows that came together and wait for their metadata together.</summary>
    private sealed record Cohort(int Id, DateTimeOffset Since, List<SourceGroup> Flows);

    private sealed record CohortWaitOver(int Id) : INoSerializationVerificationNeeded;
}
