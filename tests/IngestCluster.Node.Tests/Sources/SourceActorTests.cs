using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.TestKit;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Node.Tunnels;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Sources;

/// <summary>A resolver the test answers by hand: each call waits until the test completes it.</summary>
internal sealed class FakeRelayResolver : IRelayResolver
{
    private readonly BlockingCollection<(IPAddress Source, TaskCompletionSource<DriadOutcome> Answer)> _calls = [];

    public int Calls { get; private set; }

    public Task<DriadOutcome> ResolveAsync(IPAddress source, CancellationToken cancellationToken = default)
    {
        Calls++;
        var answer = new TaskCompletionSource<DriadOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        _calls.Add((source, answer));
        return answer.Task;
    }

    /// <summary>Waits (with a deadline) for the next lookup and answers it.</summary>
    public IPAddress Answer(Func<IPAddress, DriadOutcome> outcome)
    {
        Assert.True(_calls.TryTake(out var call, TimeSpan.FromSeconds(5)), "the source actor did not look up its relays");
        call.Answer.SetResult(outcome(call.Source));
        return call.Source;
    }

    public bool HasPendingCall(TimeSpan wait) => _calls.TryTake(out _, wait);
}

/// <summary>Stands in for the AmtTunnelActor: reports its life to a probe, forwards what it gets, and sends its
/// parent whatever it is told to <see cref="Emit"/>.</summary>
internal sealed class FakeTunnel : ReceiveActor
{
    public sealed record Started(TunnelProtocol.TunnelTarget Target, IActorRef Tunnel);

    public sealed record Stopped(TunnelProtocol.TunnelTarget Target);

    public sealed record Emit(object Message);

    private readonly IActorRef _probe;
    private readonly TunnelProtocol.TunnelTarget _target;

    public FakeTunnel(IActorRef probe, TunnelProtocol.TunnelTarget target)
    {
        _probe = probe;
        _target = target;
        Receive<Emit>(e => Context.Parent.Tell(e.Message));
        ReceiveAny(m => _probe.Tell(m));
    }

    protected override void PreStart() => _probe.Tell(new Started(_target, Self));

    protected override void PostStop() => _probe.Tell(new Stopped(_target));
}

/// <summary>The shard region's stand-in: creates the entity and reports what the entity tells its parent.</summary>
internal sealed class FakeShard : ReceiveActor
{
    public FakeShard(Props entity, IActorRef probe)
    {
        var child = Context.ActorOf(entity, "entity");
        Receive<Passivate>(p =>
        {
            probe.Tell(p);
            child.Tell(p.StopMessage);
        });
        ReceiveAny(m => child.Forward(m));
    }
}

public class SourceActorTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly IPAddress S = IPAddress.Parse("10.0.5.2");
    private static readonly IPAddress G1 = IPAddress.Parse("232.1.1.1");
    private static readonly IPAddress G2 = IPAddress.Parse("232.1.1.2");
    private static readonly IPEndPoint R1 = new(IPAddress.Parse("10.0.9.1"), 2268);
    private static readonly IPEndPoint R2 = new(IPAddress.Parse("10.0.9.2"), 2268);

    private readonly FakeRelayResolver _resolver = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 22, 0, 0, TimeSpan.Zero));
    private readonly NodeMetrics _metrics = new();
    private readonly TestProbe _tunnels;

    public SourceActorTests()
    {
        _tunnels = CreateTestProbe("tunnels");
    }

    /// <remarks>A status that lasts only until a retry (NoRelay, Backoff) is polled for: a test that looks for one
    /// sets that wait to seconds (<paramref name="noRelayRetry"/>, <paramref name="backoff"/>), as a loaded machine
    /// polls past a window of a few hundred ms now and then, and then sees the next lookup's status for good.</remarks>
    private SourceActorDependencies Deps(bool underSharding = false, TimeSpan? noRelayRetry = null, TimeSpan? backoff = null) => new(
        _resolver,
        target => Props.Create(() => new FakeTunnel(_tunnels.Ref, target)),
        new SourceSettings
        {
            BackoffMin = backoff ?? TimeSpan.FromMilliseconds(100),
            BackoffMax = backoff ?? TimeSpan.FromMilliseconds(400),
            NoRelayRetry = noRelayRetry ?? TimeSpan.FromMilliseconds(300),
            DefaultHoldDown = TimeSpan.FromMinutes(5),
        },
        _metrics,
        _time,
        underSharding,
        () => new Random(1));

    private static DriadOutcome Relays(IPAddress source, params (byte Precedence, IPEndPoint Relay)[] relays) =>
        new DriadOutcome.RelayCandidates(source, [.. relays.Select(r => new RelayCandidate(r.Precedence, false, r.Relay))]);

    private void ExpectGroups(params IPAddress[] groups)
    {
        var set = _tunnels.ExpectMsg<TunnelProtocol.SetGroups>();
        Assert.Equal(groups, set.Groups.ToArray());
    }

    private SourceProtocol.SourceStatus Status(IActorRef source) =>
        source.Ask<SourceProtocol.SourceStatus>(new SourceProtocol.GetSourceStatus(S), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();

    private SourceProtocol.SourceStatus AwaitStatus(IActorRef source, Func<SourceProtocol.SourceStatus, bool> condition)
    {
        SourceProtocol.SourceStatus status = Status(source);
        AwaitCondition(() => condition(status = Status(source)), TimeSpan.FromSeconds(5));
        return status;
    }

    private (IActorRef Source, IActorRef Tunnel) Tunnelling(params (byte, IPEndPoint)[] relays) => Tunnelling(Deps(), relays);

    private (IActorRef Source, IActorRef Tunnel) Tunnelling(SourceActorDependencies deps, params (byte, IPEndPoint)[] relays)
    {
        var source = Sys.ActorOf(SourceActor.Props(S, deps));
        source.Tell(new SourceProtocol.EnsureGroups(S, [G1]));
        _resolver.Answer(s => Relays(s, relays));
        var started = _tunnels.ExpectMsg<FakeTunnel.Started>();
        ExpectGroups(G1);
        return (source, started.Tunnel);
    }

    [Fact]
    public void Groups_lead_to_a_lookup_and_a_tunnel_to_the_best_relay_that_gets_every_group_set()
    {
        var (source, _) = Tunnelling((20, R2), (10, R1));
        Assert.Equal(1, _resolver.Calls);

        source.Tell(new SourceProtocol.EnsureGroups(S, [G2, G1]));
        ExpectGroups(G1, G2);
        source.Tell(new SourceProtocol.EnsureGroups(S, [G1, G2]));
        ExpectGroups(G1, G2);

        var status = Status(source);
        Assert.Equal("Tunnelling", status.State);
        Assert.Equal(R1.ToString(), status.Relay);
        Assert.Equal(["232.1.1.1", "232.1.1.2"], status.Groups.ToArray());
        Assert.Equal(1, _metrics.Value("ingest_source_tunnels_started_total"));
    }

    [Fact]
    public void Prepare_opens_the_tunnel_joining_nothing_and_groups_then_only_join()
    {
        var deps = Deps() with { Settings = Deps().Settings with { PrepareFor = TimeSpan.FromMilliseconds(300) } };
        var source = Sys.ActorOf(SourceActor.Props(S, deps));
        Watch(source);
        source.Tell(new SourceProtocol.Prepare(S));
        _resolver.Answer(s => Relays(s, (10, R1)));
        Assert.Equal(R1, _tunnels.ExpectMsg<FakeTunnel.Started>().Target.Relay);
        ExpectGroups();

        source.Tell(new SourceProtocol.EnsureGroups(S, [G1]));
        ExpectGroups(G1);
        // Past the preparation's deadline the tunnel stays: groups came.
        _tunnels.ExpectNoMsg(TimeSpan.FromMilliseconds(600));
        Assert.Equal("Tunnelling", Status(source).State);
        Assert.Equal(1, _resolver.Calls);
    }

    [Fact]
    public void A_preparation_no_groups_follow_closes_its_tunnel_and_the_entity()
    {
        var deps = Deps() with { Settings = Deps().Settings with { PrepareFor = TimeSpan.FromMilliseconds(300) } };
        var source = Sys.ActorOf(SourceActor.Props(S, deps));
        Watch(source);
        source.Tell(new SourceProtocol.Prepare(S));
        _resolver.Answer(s => Relays(s, (10, R1)));
        _tunnels.ExpectMsg<FakeTunnel.Started>();
        ExpectGroups();
        Assert.Equal(R1, _tunnels.ExpectMsg<FakeTunnel.Stopped>(TimeSpan.FromSeconds(5)).Target.Relay);
        ExpectTerminated(source, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void First_tunnel_goes_to_the_lowest_precedence()
    {
        var source = Sys.ActorOf(SourceActor.Props(S, Deps()));
        source.Tell(new SourceProtocol.EnsureGroups(S, [G1]));
        _resolver.Answer(s => Relays(s, (20, R2), (10, R1)));
        Assert.Equal(R1, _tunnels.ExpectMsg<FakeTunnel.Started>().Target.Relay);
    }

    [Fact]
    public void Status_while_resolving_says_resolving()
    {
        var source = Sys.ActorOf(SourceActor.Props(S, Deps()));
        source.Tell(new SourceProtocol.EnsureGroups(S, [G1]));
        var status = Status(source);
        Assert.Equal("Resolving", status.State);
        _resolver.Answer(s => new DriadOutcome.NoRelay(s));
    }

    [Fact]
    public void A_failed_relay_is_held_down_its_tunnel_stopped_and_the_next_candidate_started()
    {
        var (source, tunnel) = Tunnelling((10, R1), (20, R2));
        tunnel.Tell(new FakeTunnel.Emit(new TunnelProtocol.TunnelFailed(R1, "no advertisement", TimeSpan.FromMinutes(3))));
        Assert.Equal(R1, _tunnels.ExpectMsg<FakeTunnel.Stopped>().Target.Relay);

        var next = _tunnels.ExpectMsg<FakeTunnel.Started>();
        Assert.Equal(R2, next.Target.Relay);
        ExpectGroups(G1);

        var status = Status(source);
        Assert.Equal("Tunnelling", status.State);
        Assert.Equal(["10.0.9.1:2268 until 2026-11-23T22:03:00Z"], status.HeldDownRelays.ToArray());
        Assert.Equal(1, _metrics.Value("ingest_source_relay_failures_total"));
    }

    [Fact]
    public void When_every_relay_failed_the_source_looks_up_again_and_reports_the_hold_down()
    {
        var (source, tunnel) = Tunnelling(Deps(backoff: TimeSpan.FromSeconds(2)), (10, R1));
        tunnel.Tell(new FakeTunnel.Emit(new TunnelProtocol.TunnelFailed(R1, "relay sent L flag", TimeSpan.Zero)));
        _tunnels.ExpectMsg<FakeTunnel.Stopped>();

        _resolver.Answer(s => Relays(s, (10, R1)));
        var status = AwaitStatus(source, s => s.State == "Backoff" && s.Detail.StartsWith("relay 10.0.9.1 held down until", StringComparison.Ordinal));
        Assert.Equal("relay 10.0.9.1 held down until 2026-11-23T22:05:00Z", status.Detail);
        Assert.Equal(2, _resolver.Calls);
        _tunnels.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void The_status_carries_this_node_s_counters_of_each_group()
    {
        var (source, _) = Tunnelling((10, R1));
        string labels = $"source=\"{S}\",group=\"{G1}\"";
        _metrics.Counter("ingest_flow_packets_total", labels).Add(7);
        _metrics.Counter("ingest_flow_bytes_total", labels).Add(9212);
        _metrics.Counter("ingest_flow_dropped_total", labels + ",reason=\"ttl_expired\"").Add(2);
        _metrics.Counter("ingest_flow_dropped_total", labels + ",reason=\"send_error\"").Add(1);

        var counters = Assert.Single(Status(source).Counters);
        Assert.Equal(new SourceProtocol.GroupCounters(G1.ToString(), 7, 9212, 3), counters);
    }

    [Fact]
    public void A_failure_from_a_tunnel_that_is_no_longer_current_is_ignored()
    {
        var (source, tunnel) = Tunnelling((10, R1), (20, R2));
        tunnel.Tell(new FakeTunnel.Emit(new TunnelProtocol.TunnelFailed(R2, "some other relay", TimeSpan.FromMinutes(3))));
        _tunnels.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal("Tunnelling", Status(source).State);
        Assert.Empty(Status(source).HeldDownRelays);
    }

    [Fact]
    public void No_record_shows_in_the_status_and_is_looked_up_again_later()
    {
        // Seen failing 1 run in 6 with the 300 ms retry of the other tests (see Deps).
        var source = Sys.ActorOf(SourceActor.Props(S, Deps(noRelayRetry: TimeSpan.FromSeconds(2))));
        source.Tell(new SourceProtocol.EnsureGroups(S, [G1]));
        _resolver.Answer(s => new DriadOutcome.NoRecord(s));
        var status = AwaitStatus(source, s => s.State == "NoRelay");
        Assert.Equal("no AMTRELAY record for 10.0.5.2", status.Detail);
        Assert.Null(status.Relay);
        _resolver.Answer(s => new DriadOutcome.NoRelay(s));
        Assert.Equal("type 0: no relay", AwaitStatus(source, s => s.Detail == "type 0: no relay").Detail);
        _tunnels.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Empty_groups_leave_stop_the_tunnel_and_stop_the_entity()
    {
        var (source, _) = Tunnelling((10, R1));
        Watch(source);
        source.Tell(new SourceProtocol.EnsureGroups(S, []));
        ExpectGroups();
        _tunnels.ExpectMsg<FakeTunnel.Stopped>();
        ExpectTerminated(source);
    }

    [Fact]
    public void Under_sharding_empty_groups_ask_the_shard_to_passivate()
    {
        var shardProbe = CreateTestProbe("shard");
        var shard = Sys.ActorOf(Props.Create(() => new FakeShard(SourceActor.PropsForEntity("10.0.5.2", Deps(true)), shardProbe.Ref)));
        shard.Tell(new SourceProtocol.EnsureGroups(S, [G1]));
        _resolver.Answer(s => Relays(s, (10, R1)));
        _tunnels.ExpectMsg<FakeTunnel.Started>();
        ExpectGroups(G1);

        shard.Tell(new SourceProtocol.EnsureGroups(S, []));
        ExpectGroups();
        _tunnels.ExpectMsg<FakeTunnel.Stopped>();
        var passivate = shardProbe.ExpectMsg<Passivate>();
        Assert.Equal(PoisonPill.Instance, passivate.StopMessage);
    }

    [Fact]
    public void A_tunnel_that_dies_without_a_word_counts_as_a_failed_relay()
    {
        var (source, tunnel) = Tunnelling((10, R1), (20, R2));
        Sys.Stop(tunnel);
        _tunnels.ExpectMsg<FakeTunnel.Stopped>();
        Assert.Equal(R2, _tunnels.ExpectMsg<FakeTunnel.Started>().Target.Relay);
        Assert.Single(Status(source).HeldDownRelays);
    }

    [Fact]
    public void Entity_ids_that_are_not_addresses_are_refused() =>
        Assert.Throws<ArgumentException>(() => SourceActor.PropsForEntity("not-an-ip", Deps()));
}
