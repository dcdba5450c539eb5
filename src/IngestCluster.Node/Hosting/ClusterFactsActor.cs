using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;

namespace IngestCluster.Node.Hosting;

/// <summary>What the members of the cluster tell each other about themselves, through distributed data.</summary>
public static class ClusterFacts
{
    /// <summary>Published on the local event stream by a PIM listener: its interface's own addresses, which every
    /// member's listener then accepts as Upstream Neighbor (routers may name any member).</summary>
    public sealed record DownstreamAddresses(string Interface, IReadOnlyList<IPAddress> Addresses) : INoSerializationVerificationNeeded;

    /// <summary>Published on the local event stream when the set of members' downstream addresses grows.</summary>
    public sealed record UpstreamsChanged(ImmutableHashSet<IPAddress> Addresses) : INoSerializationVerificationNeeded;

    public sealed class GetFacts : INoSerializationVerificationNeeded
    {
        public static readonly GetFacts Instance = new();
        private GetFacts() { }
    }

    /// <summary>Each current member's journal identity (or null when it has not said), and whether they differ.</summary>
    public sealed record Facts(
        ImmutableDictionary<string, string?> JournalByMember,
        ImmutableHashSet<IPAddress> Upstreams,
        string? OwnJournal,
        string? JournalError) : INoSerializationVerificationNeeded
    {
        public bool JournalMismatch => JournalByMember.Values.OfType<string>().Distinct(StringComparer.Ordinal).Count() > 1;
    }
}

/// <summary>
/// Keeps this node's facts in a replicated set (<c>ingest-facts</c>: elements <c>journal|member|id</c> and
/// <c>downstream|member|address</c>) and reads everyone else's: the members' downstream addresses, which the PIM
/// listeners accept Joins for, and the members' journal identities, which must all be one. A mismatch is logged as
/// an error on every change and counted in <c>ingest_journal_mismatch_total</c>; /status shows it.
/// </summary>
public sealed class ClusterFactsActor : ReceiveActor, IWithTimers
{
    private static readonly ORSetKey<string> Key = new("ingest-facts");

    private readonly PersistenceSettings _persistence;
    private readonly Microsoft.Extensions.Logging.ILogger _logger = NodeLog.For(Context.System, typeof(ClusterFactsActor));
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly MetricCounter _mismatches;
    private ORSet<string> _facts = ORSet<string>.Empty;
    private ImmutableHashSet<IPAddress> _upstreams = [];
    private string? _ownJournal;
    private string? _journalError;
    private bool _reportedMismatch;

    public ClusterFactsActor(PersistenceSettings persistence, NodeMetrics metrics)
    {
        _persistence = persistence;
        _mismatches = metrics.Counter("ingest_journal_mismatch_total", help: "Times members were seen writing to different journals.");

        Receive<ClusterFacts.DownstreamAddresses>(m => Add(m.Addresses.Select(a => $"downstream|{Self_}|{a}")));
        Receive<JournalRead>(m =>
        {
            if (m.Identity is { } id)
            {
                _ownJournal = id;
                _journalError = null;
                NodeLog.JournalIdentity(_logger, id.ToString() ?? "", _persistence.Provider.ToString());
                Add([$"journal|{Self_}|{id}"]);
            }
            else
            {
                _journalError = m.Error;
                NodeLog.JournalIdentityUnknown(_logger, m.Error);
                Timers.StartSingleTimer("read-journal", ReadJournal.Instance, TimeSpan.FromSeconds(2));
            }
        });
        Receive<ReadJournal>(_ => Read());
        Receive<Changed>(c =>
        {
            _facts = c.Get(Key);
            Recompute();
        });
        Receive<ClusterEvent.IMemberEvent>(_ => Recompute());
        Receive<ClusterEvent.CurrentClusterState>(_ => Recompute());
        Receive<UpdateSuccess>(_ => { });
        Receive<IUpdateFailure>(f => NodeLog.FactsUpdateFailed(_logger, f.ToString() ?? ""));
        Receive<ClusterFacts.GetFacts>(_ => Sender.Tell(Current()));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(PersistenceSettings persistence, NodeMetrics metrics) =>
        Akka.Actor.Props.Create(() => new ClusterFactsActor(persistence, metrics));

    private string Self_ => _cluster.SelfAddress.ToString();

    protected override void PreStart()
    {
        _replicator.Tell(Dsl.Subscribe(Key, Self));
        Context.System.EventStream.Subscribe<ClusterFacts.DownstreamAddresses>(Self);
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
        Read();
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        _cluster.Unsubscribe(Self);
    }

    private void Read()
    {
        JournalIdentity.ReadOrCreate(_persistence, CancellationToken.None).PipeTo(Self,
            success: id => new JournalRead(id, null),
            failure: e => new JournalRead(null, $"cannot read the journal's identity: {e.GetBaseException().Message}"));
    }

    private void Add(IEnumerable<string> elements)
    {
        var list = elements.ToList();
        _replicator.Tell(Dsl.Update(Key, ORSet<string>.Empty, WriteLocal.Instance,
            set => list.Aggregate(set, (s, e) => s.Add(_cluster.SelfUniqueAddress, e))));
    }

    private ClusterFacts.Facts Current()
    {
        var members = _cluster.State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Select(m => m.Address.ToString()).ToList();
        var journals = _facts.Elements.Select(e => e.Split('|', 3)).Where(p => p.Length == 3 && p[0] == "journal")
            .GroupBy(p => p[1]).ToDictionary(g => g.Key, g => g.Last()[2]);
        var byMember = members.ToImmutableDictionary(m => m, m => journals.GetValueOrDefault(m));
        return new ClusterFacts.Facts(byMember, _upstreams, _ownJournal, _journalError);
    }

    private void Recompute()
    {
        var upstreams = _facts.Elements.Select(e => e.Split('|', 3)).Where(p => p.Length == 3 && p[0] == "downstream")
            .Select(p => IPAddress.TryParse(p[2], out var a) ? a : null).OfType<IPAddress>().ToImmutableHashSet();
        if (!upstreams.SetEquals(_upstreams))
        {
            _upstreams = upstreams;
            Context.System.EventStream.Publish(new ClusterFacts.UpstreamsChanged(upstreams));
        }
        var facts = Current();
        if (facts.JournalMismatch)
        {
            if (!_reportedMismatch)
            {
                _mismatches.Increment();
                NodeLog.JournalMismatch(_logger, string.Join(", ", facts.JournalByMember.Select(kv => $"{kv.Key} -> {kv.Value ?? "?"}")));
            }
            _reportedMismatch = true;
        }
        else
        {
            _reportedMismatch = false;
        }
    }

    private sealed record JournalRead(string? Identity, string? Error) : INoSerializationVerificationNeeded;

    private sealed class ReadJournal : INoSerializationVerificationNeeded
    {
        public static readonly ReadJournal Instance = new();
    }
}
