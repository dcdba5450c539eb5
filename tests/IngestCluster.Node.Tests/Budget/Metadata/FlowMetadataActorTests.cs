using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using IngestCluster.Node.Budget.Metadata;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Cbacc;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Budget.Metadata;

public sealed class FlowMetadataActorTests : TestKit
{
    private static readonly SourceGroup Flow = new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"));
    private static readonly SourceGroup Other = new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.2"));
    private static readonly CbaccMetadata TwoMegabits = new(2_000_000, 1400, TimeSpan.FromSeconds(2), 256, CbaccNameSet.Current);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly NodeMetrics _metrics = new();
    private readonly ScriptedSource _source = new();

    /// <summary>Each fetch waits until the test completes it; the test sees how many were started, per flow.</summary>
    private sealed class ScriptedSource : IFlowMetadataSource
    {
        private readonly ConcurrentDictionary<SourceGroup, ConcurrentQueue<TaskCompletionSource<MetadataResult>>> _pending = new();

        public int Started(SourceGroup flow) => _pending.TryGetValue(flow, out var queue) ? queue.Count + _finished.GetValueOrDefault(flow) : 0;

        private readonly ConcurrentDictionary<SourceGroup, int> _finished = new();

        public Task<MetadataResult> FetchAsync(SourceGroup flow, CancellationToken cancellationToken = default)
        {
            var completion = new TaskCompletionSource<MetadataResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending.GetOrAdd(flow, _ => new()).Enqueue(completion);
            return completion.Task;
        }

        public void Complete(SourceGroup flow, MetadataResult result)
        {
            Assert.True(_pending[flow].TryDequeue(out var completion), $"no fetch of {flow} is waiting");
            _finished.AddOrUpdate(flow, 1, (_, n) => n + 1);
            completion.SetResult(result);
        }

        public void Fail(SourceGroup flow, Exception e)
        {
            Assert.True(_pending[flow].TryDequeue(out var completion), $"no fetch of {flow} is waiting");
            _finished.AddOrUpdate(flow, 1, (_, n) => n + 1);
            completion.SetException(e);
        }
    }

    private IActorRef Start(MetadataSettings? settings = null) =>
        Sys.ActorOf(FlowMetadataActor.Props(_source, settings ?? new MetadataSettings(), _metrics, _time));

    [Fact]
    public void Concurrent_requests_for_one_flow_share_one_fetch_and_all_get_its_result()
    {
        var actor = Start();
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow), first);
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow), second);
        AwaitCondition(() => _source.Started(Flow) == 1);
        first.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        var found = new MetadataResult.Found(TwoMegabits, _time.GetUtcNow() + TimeSpan.FromMinutes(5));
        _source.Complete(Flow, found);

        Assert.Equal(new MetadataProtocol.FlowMetadataResult(Flow, found), first.ExpectMsg<MetadataProtocol.FlowMetadataResult>());
        Assert.Equal(new MetadataProtocol.FlowMetadataResult(Flow, found), second.ExpectMsg<MetadataProtocol.FlowMetadataResult>());
        Assert.Equal(1, _source.Started(Flow));
    }

    [Fact]
    public void A_fetch_in_flight_does_not_hold_up_another_flow()
    {
        var actor = Start();
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Other));
        AwaitCondition(() => _source.Started(Flow) == 1 && _source.Started(Other) == 1);

        var notFound = new MetadataResult.NotFound("404", _time.GetUtcNow() + TimeSpan.FromMinutes(2));
        _source.Complete(Other, notFound);
        Assert.Equal(new MetadataProtocol.FlowMetadataResult(Other, notFound), ExpectMsg<MetadataProtocol.FlowMetadataResult>());
    }

    [Fact]
    public void A_result_is_answered_from_the_cache_until_it_expires_then_fetched_again()
    {
        var actor = Start();
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        AwaitCondition(() => _source.Started(Flow) == 1);
        var found = new MetadataResult.Found(TwoMegabits, _time.GetUtcNow() + TimeSpan.FromMinutes(5));
        _source.Complete(Flow, found);
        ExpectMsg<MetadataProtocol.FlowMetadataResult>();

        _time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        Assert.Same(found, ExpectMsg<MetadataProtocol.FlowMetadataResult>().Result);
        Assert.Equal(1, _source.Started(Flow));
        Assert.Equal(1, _metrics.Value("ingest_metadata_cache_hits_total"));

        _time.Advance(TimeSpan.FromSeconds(1));
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        AwaitCondition(() => _source.Started(Flow) == 2);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_failure_is_cached_like_any_result()
    {
        var actor = Start();
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        AwaitCondition(() => _source.Started(Flow) == 1);
        var failed = new MetadataResult.Failed(MetadataFailure.Timeout, "slow", _time.GetUtcNow() + TimeSpan.FromMinutes(2));
        _source.Complete(Flow, failed);
        Assert.Same(failed, ExpectMsg<MetadataProtocol.FlowMetadataResult>().Result);

        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        Assert.Same(failed, ExpectMsg<MetadataProtocol.FlowMetadataResult>().Result);
        Assert.Equal(1, _source.Started(Flow));
    }

    [Fact]
    public void A_fetch_that_throws_is_an_internal_failure_cached_for_the_negative_TTL()
    {
        var settings = new MetadataSettings { NegativeTtl = TimeSpan.FromSeconds(90) };
        var actor = Start(settings);
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        AwaitCondition(() => _source.Started(Flow) == 1);
        _source.Fail(Flow, new InvalidOperationException("a bug"));

        var failed = Assert.IsType<MetadataResult.Failed>(ExpectMsg<MetadataProtocol.FlowMetadataResult>().Result);
        Assert.Equal(MetadataFailure.Internal, failed.Failure);
        Assert.Contains("a bug", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(90), failed.Expires);
    }

    [Fact]
    public void When_disabled_nothing_is_fetched()
    {
        var actor = Start(new MetadataSettings { Enabled = false });
        actor.Tell(new MetadataProtocol.GetFlowMetadata(Flow));
        var failed = Assert.IsType<MetadataResult.Failed>(ExpectMsg<MetadataProtocol.FlowMetadataResult>().Result);
        Assert.Equal(MetadataFailure.Disabled, failed.Failure);
        Assert.Equal(0, _source.Started(Flow));
    }
}
