using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Budget.Metadata;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Cbacc;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Budget;

/// <summary>
/// The budget singleton's wiring of the policy, tested with the actor itself: an in-memory journal, a fake clock
/// (hold-downs and grace), a probe for the sources stage and one standing in for the metadata child, so the test
/// decides what DORMS answers and when.
/// </summary>
public sealed class BandwidthBudgetActorTests : TestKit
{
    private static readonly IPAddress S = IPAddress.Parse("198.51.100.12");
    private static readonly SourceGroup A = new(S, IPAddress.Parse("232.1.1.1"));
    private static readonly SourceGroup B = new(S, IPAddress.Parse("232.1.1.2"));
    private static readonly SourceGroup C = new(IPAddress.Parse("198.51.100.13"), IPAddress.Parse("232.1.1.3"));

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-12-02T08:00:00Z"));
    private readonly NodeMetrics _metrics = new();
    private readonly TestProbe _sources;
    private readonly TestProbe _dorms;

    public BandwidthBudgetActorTests()
        : base(ConfigurationFactory.ParseString("""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = 0
            akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
            akka.loglevel = WARNING
            """))
    {
        _sources = CreateTestProbe("sources");
        _dorms = CreateTestProbe("dorms");
    }

    private static readonly BudgetSettings Limited = new()
    {
        Limit = new Bitrate(20_000_000),
        BlockedHoldDown = TimeSpan.FromSeconds(150),
        MetadataWait = TimeSpan.FromSeconds(30),
        ReconcileInterval = TimeSpan.FromMinutes(10),
    };

    private IActorRef Start(BudgetSettings settings, string name = "budget", string journal = "budget") =>
        Sys.ActorOf(BandwidthBudgetActor.Props(_sources.Ref, settings, _clock, _metrics,
            Props.Create(() => new Forwarder(_dorms.Ref)), persistenceId: journal), name);

    private void Join(IActorRef budget, SourceGroup flow, int population, string origin = "n1/joinfile") =>
        budget.Tell(new DemandProtocol.DemandChanged(origin, flow, Joined: true, population));

    /// <summary>Answers the metadata child's next request, for the flow asked, with a bitrate (or none).</summary>
    private SourceGroup AnswerMetadata(long? bitsPerSecond, long priority = 256)
    {
        var ask = _dorms.ExpectMsg<MetadataProtocol.GetFlowMetadata>(TimeSpan.FromSeconds(10));
        MetadataResult result = bitsPerSecond is { } bps
            ? new MetadataResult.Found(new CbaccMetadata(bps, 1400, TimeSpan.FromSeconds(2), priority, CbaccNameSet.Current), _clock.GetUtcNow().AddHours(1))
            : new MetadataResult.NotFound("404 on both paths", _clock.GetUtcNow().AddMinutes(2));
        _dorms.LastSender.Tell(new MetadataProtocol.FlowMetadataResult(ask.Flow, result));
        return ask.Flow;
    }

    private BudgetProtocol.BudgetReport ReportOf(IActorRef budget) =>
        budget.Ask<BudgetProtocol.BudgetReport>(BudgetProtocol.GetBudget.Instance, TimeSpan.FromSeconds(10)).Result;

    private static BudgetProtocol.BudgetReport SetLimit(IActorRef budget, long? bitsPerSecond) =>
        budget.Ask<BudgetProtocol.BudgetReport>(new BudgetProtocol.SetLimit(bitsPerSecond), TimeSpan.FromSeconds(10)).Result;

    private BudgetProtocol.BudgetReport AwaitReport(IActorRef budget, Func<BudgetProtocol.BudgetReport, bool> condition)
    {
        BudgetProtocol.BudgetReport? last = null;
        AwaitCondition(() => condition(last = ReportOf(budget)), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        return last!;
    }

    [Fact]
    public void Three_flows_under_a_limit_that_fits_two_block_the_one_with_least_offload_and_tell_the_sources_only_the_two()
    {
        var budget = Start(Limited);
        Join(budget, A, population: 5);
        Join(budget, B, population: 1);
        Join(budget, C, population: 3);
        // Every flow is asked for; none is decided before the three answers are in (they came together).
        var bitrates = new Dictionary<SourceGroup, long> { [A] = 10_000_000, [B] = 10_000_000, [C] = 10_000_000 };
        for (int i = 0; i < 3; i++)
        {
            var ask = _dorms.ExpectMsg<MetadataProtocol.GetFlowMetadata>(TimeSpan.FromSeconds(10));
            Assert.True(ReportOf(budget).Admitted.IsEmpty);
            _dorms.LastSender.Tell(new MetadataProtocol.FlowMetadataResult(ask.Flow, new MetadataResult.Found(
                new CbaccMetadata(bitrates[ask.Flow], 1400, TimeSpan.FromSeconds(2), 256, CbaccNameSet.Current), _clock.GetUtcNow().AddHours(1))));
        }

        var report = AwaitReport(budget, r => r.Admitted.Length == 2 && r.Blocked.Length == 1);
        Assert.Equal([A, C], report.Admitted.Select(a => a.Flow).OrderBy(f => f.ToString()));
        var blocked = Assert.Single(report.Blocked);
        Assert.Equal(B, blocked.Flow);
        Assert.Equal("OverLimit", blocked.Reason);
        Assert.Contains("10Mbps", blocked.Detail.Replace(" ", ""), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(_clock.GetUtcNow().AddSeconds(150), blocked.Until);
        Assert.Equal(20_000_000, report.Used);
        Assert.Equal(40_000_000, report.Admitted.Single(a => a.Flow == A).OffloadBitsPerSecond);

        // While the metadata was fetched, every waiting flow's source was told to prepare (relay and tunnel, joining
        // nothing), each once and before any decision; then the sources stage hears groups of A (source S) and C,
        // never of B.
        var messages = _sources.ReceiveWhile(TimeSpan.FromSeconds(1), m => m);
        var prepared = messages.TakeWhile(m => m is SourceProtocol.Prepare).Cast<SourceProtocol.Prepare>().Select(p => p.Source).ToList();
        Assert.Equal(new[] { A.Source, B.Source, C.Source }.Distinct().OrderBy(a => a.ToString()), prepared.OrderBy(a => a.ToString()));
        var told = messages.Skip(prepared.Count).Select(m => Assert.IsType<SourceProtocol.EnsureGroups>(m)).ToList();
        Assert.Contains(told, e => e.Source.Equals(S) && e.Groups.SequenceEqual([A.Group]));
        Assert.Contains(told, e => e.Source.Equals(C.Source) && e.Groups.SequenceEqual([C.Group]));
        Assert.DoesNotContain(told, e => e.Groups.Contains(B.Group));
        Assert.Equal(1, _metrics.Value("ingest_budget_flows_blocked_total"));
    }

    [Fact]
    public void A_flow_demanded_again_after_its_metadata_expired_waits_for_a_fresh_fetch_and_its_source_prepares_meanwhile()
    {
        var budget = Start(Limited);
        Join(budget, A, population: 2);
        var ask = _dorms.ExpectMsg<MetadataProtocol.GetFlowMetadata>(TimeSpan.FromSeconds(10));
        _dorms.LastSender.Tell(new MetadataProtocol.FlowMetadataResult(ask.Flow, new MetadataResult.Found(
            new CbaccMetadata(4_000_000, 1400, TimeSpan.FromSeconds(2), 256, CbaccNameSet.Current), _clock.GetUtcNow().AddSeconds(1))));
        AwaitReport(budget, r => r.Admitted.Length == 1);
        budget.Tell(new DemandProtocol.DemandChanged("n1/joinfile", A, Joined: false, 1));
        AwaitReport(budget, r => r.Admitted.IsEmpty);
        _sources.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m);

        // Past the metadata's lifetime, the same flow again: it is not admitted on the expired size, but asked for
        // again, and its source is told to prepare while the answer comes.
        _clock.Advance(TimeSpan.FromSeconds(2));
        Join(budget, A, population: 2);
        Assert.Equal(A, _dorms.ExpectMsg<MetadataProtocol.GetFlowMetadata>(TimeSpan.FromSeconds(10)).Flow);
        Assert.Equal(S, _sources.FishForMessage<SourceProtocol.Prepare>(_ => true, TimeSpan.FromSeconds(10)).Source);
        Assert.True(ReportOf(budget).Admitted.IsEmpty);
        _dorms.LastSender.Tell(new MetadataProtocol.FlowMetadataResult(A, new MetadataResult.Found(
            new CbaccMetadata(6_000_000, 1400, TimeSpan.FromSeconds(2), 256, CbaccNameSet.Current), _clock.GetUtcNow().AddHours(1))));
        var report = AwaitReport(budget, r => r.Admitted.Length == 1);
        Assert.Equal(6_000_000, report.Admitted[0].BitsPerSecond);
    }

    [Fact]
    public void Raising_the_limit_admits_the_held_flow_when_its_hold_down_ends_and_lowering_it_drops_the_lowest_ranked()
    {
        var budget = Start(Limited with { BlockedHoldDown = TimeSpan.FromSeconds(20) });
        Join(budget, A, population: 5);
        AnswerMetadata(10_000_000);
        AwaitReport(budget, r => r.Admitted.Length == 1);
        Join(budget, C, population: 3);
        AnswerMetadata(10_000_000);
        AwaitReport(budget, r => r.Admitted.Length == 2);
        Join(budget, B, population: 1);
        AnswerMetadata(10_000_000);
        AwaitReport(budget, r => r.Blocked.Length == 1);

        var raised = SetLimit(budget, 30_000_000);
        Assert.Equal(30_000_000, raised.Limit);
        Assert.Equal("admin", raised.LimitFrom);
        // Still held down: the hold-down has not ended.
        Assert.Equal(B, Assert.Single(raised.Blocked).Flow);

        _clock.Advance(TimeSpan.FromSeconds(21));
        budget.Tell(BudgetProtocol.ReconcileTick.Instance);
        var all = AwaitReport(budget, r => r.Admitted.Length == 3);
        Assert.Empty(all.Blocked);
        Assert.Equal(30_000_000, all.Used);

        var lowered = SetLimit(budget, 25_000_000);
        var after = lowered.Admitted.Length == 2 ? lowered : AwaitReport(budget, r => r.Admitted.Length == 2);
        Assert.DoesNotContain(after.Admitted, a => a.Flow == B);
        var dropped = Assert.Single(after.Blocked);
        Assert.Equal((B, "Dropped"), (dropped.Flow, dropped.Reason));
        _sources.FishForMessage<SourceProtocol.EnsureGroups>(e => e.Source.Equals(S) && e.Groups.SequenceEqual([A.Group]), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void The_limit_set_at_run_time_and_the_hold_downs_survive_a_restart_and_admitted_flows_are_not_re_asked_before_they_count()
    {
        var budget = Start(Limited);
        Join(budget, A, population: 2);
        AnswerMetadata(15_000_000);
        AwaitReport(budget, r => r.Admitted.Length == 1);
        Join(budget, B, population: 2);
        AnswerMetadata(15_000_000);
        AwaitReport(budget, r => r.Blocked.Length == 1);
        SetLimit(budget, 18_000_000);

        Watch(budget);
        Sys.Stop(budget);
        ExpectTerminated(budget);
        var again = Start(Limited, "budget-again");

        var report = ReportOf(again);
        Assert.Equal((18_000_000L, "admin"), (report.Limit!.Value, report.LimitFrom));
        Assert.Equal(A, Assert.Single(report.Admitted).Flow);
        Assert.Equal(15_000_000, report.Used);
        Assert.Equal(B, Assert.Single(report.Blocked).Flow);
        // With no demand heard yet, the recovered flow is kept (the grace period), and the sources are told of it.
        _sources.FishForMessage<SourceProtocol.EnsureGroups>(e => e.Source.Equals(S) && e.Groups.SequenceEqual([A.Group]), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_flow_without_metadata_is_blocked_with_that_reason_or_takes_the_default_bitrate()
    {
        var strict = Start(Limited);
        Join(strict, A, population: 4);
        AnswerMetadata(null);
        var report = AwaitReport(strict, r => r.Blocked.Length == 1);
        Assert.Equal("NoMetadata", report.Blocked[0].Reason);
        Assert.Contains("Budget:DefaultBitrate", report.Blocked[0].Detail, StringComparison.Ordinal);
        Assert.Empty(report.Admitted);

        var lenient = Start(Limited with { DefaultBitrate = new Bitrate(4_000_000) }, "budget-default", journal: "budget-default");
        Join(lenient, C, population: 1);
        AnswerMetadata(null);
        var admitted = Assert.Single(AwaitReport(lenient, r => r.Admitted.Length == 1).Admitted);
        Assert.Equal((C, 4_000_000L), (admitted.Flow, admitted.BitsPerSecond));
    }

    [Fact]
    public void A_slow_metadata_answer_holds_back_only_its_own_flow_until_the_wait_is_over()
    {
        var budget = Start(Limited with { MetadataWait = TimeSpan.FromSeconds(2), DefaultBitrate = new Bitrate(1_000_000) });
        Join(budget, A, population: 2);
        _dorms.ExpectMsg<MetadataProtocol.GetFlowMetadata>(TimeSpan.FromSeconds(10)); // never answered
        Assert.Equal(A, Assert.Single(ReportOf(budget).Pending).Flow);

        // Past the 50 ms in which new flows gather into one cohort: C comes on its own.
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Join(budget, C, population: 1);
        AnswerMetadata(5_000_000);
        // C does not wait for A.
        var first = AwaitReport(budget, r => r.Admitted.Any(a => a.Flow == C));
        Assert.DoesNotContain(first.Admitted, a => a.Flow == A);

        // A's wait ends: it is decided at the default bitrate.
        var later = AwaitReport(budget, r => r.Admitted.Length == 2);
        Assert.Equal(1_000_000, later.Admitted.Single(a => a.Flow == A).BitsPerSecond);
        Assert.Empty(later.Pending);
    }

    [Fact]
    public void Without_a_limit_every_flow_is_admitted_at_once_and_nothing_is_fetched()
    {
        var budget = Start(new BudgetSettings { ReconcileInterval = TimeSpan.FromMinutes(10) });
        Join(budget, A, population: 1);
        Join(budget, C, population: 1);
        var report = AwaitReport(budget, r => r.Admitted.Length == 2);
        Assert.Equal(("none", (long?)null), (report.LimitFrom, report.Limit));
        _dorms.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    /// <summary>Stands in for the metadata child: hands each request to the test's probe, the budget as sender.</summary>
    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}
