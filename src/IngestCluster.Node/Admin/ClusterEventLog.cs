using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Node.Admin;

/// <summary>The last membership and reachability events this node saw, numbered, for <c>ingestctl cluster tail</c>
/// (<c>GET /api/cluster/events?after=N</c>). Written by <see cref="ClusterEventRecorder"/>, read by the API.</summary>
public sealed class ClusterEventLog(int capacity)
{
    private readonly Queue<ClusterEventView> _events = new();
    private long _sequence;

    public void Add(DateTimeOffset at, string kind, string address, string status)
    {
        lock (_events)
        {
            _events.Enqueue(new ClusterEventView(++_sequence, at, kind, address, status));
            while (_events.Count > capacity)
            {
                _events.Dequeue();
            }
        }
    }

    public ClusterEventsView After(long sequence)
    {
        lock (_events)
        {
            return new ClusterEventsView(_sequence, [.. _events.Where(e => e.Sequence > sequence)]);
        }
    }
}

/// <summary>Subscribes to the cluster's member, reachability and leader events and writes them to the
/// <see cref="ClusterEventLog"/>. The first events are the state at subscription, as events.</summary>
public sealed class ClusterEventRecorder : ReceiveActor
{
    public ClusterEventRecorder(ClusterEventLog log, TimeProvider clock)
    {
        var cluster = Cluster.Get(Context.System);
        Receive<ClusterEvent.IMemberEvent>(e => log.Add(clock.GetUtcNow(), e.GetType().Name, e.Member.Address.ToString(), e.Member.Status.ToString()));
        Receive<ClusterEvent.UnreachableMember>(e => log.Add(clock.GetUtcNow(), nameof(ClusterEvent.UnreachableMember), e.Member.Address.ToString(), e.Member.Status.ToString()));
        Receive<ClusterEvent.ReachableMember>(e => log.Add(clock.GetUtcNow(), nameof(ClusterEvent.ReachableMember), e.Member.Address.ToString(), e.Member.Status.ToString()));
        Receive<ClusterEvent.LeaderChanged>(e => log.Add(clock.GetUtcNow(), nameof(ClusterEvent.LeaderChanged), e.Leader?.ToString() ?? "", "leader"));
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.LeaderChanged));
    }

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
}

public static class ClusterEventLogRegistration
{
    public static AkkaConfigurationBuilder AddClusterEventLog(this AkkaConfigurationBuilder akka, ClusterEventLog log) =>
        akka.WithActors((system, _) => system.ActorOf(Props.Create(() => new ClusterEventRecorder(log, TimeProvider.System)), "admin-cluster-events"));
}
