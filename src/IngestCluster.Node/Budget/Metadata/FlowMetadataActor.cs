using Akka.Actor;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>
/// Answers <see cref="MetadataProtocol.GetFlowMetadata"/> from a <see cref="MetadataCache"/>, fetching through an
/// <see cref="IFlowMetadataSource"/> (DORMS) when the cache has nothing current. The fetch runs off the actor and
/// comes back by PipeTo; requests for a flow whose fetch is in flight wait for that one fetch.
/// </summary>
public sealed class FlowMetadataActor : ReceiveActor
{
    private readonly IFlowMetadataSource _source;
    private readonly MetadataSettings _settings;
    private readonly TimeProvider _time;
    private readonly MetadataCache _cache;
    private readonly MetricCounter _cacheHits;
    private readonly Dictionary<SourceGroup, List<IActorRef>> _waiting = [];
    private readonly CancellationTokenSource _stopping = new();

    public FlowMetadataActor(IFlowMetadataSource source, MetadataSettings settings, NodeMetrics metrics, TimeProvider time)
    {
        _source = source;
        _settings = settings;
        _time = time;
        _cache = new MetadataCache(settings, time);
        _cacheHits = metrics.Counter("ingest_metadata_cache_hits_total", "", "Flow metadata requests answered from the cache");

        Receive<MetadataProtocol.GetFlowMetadata>(Handle);
        Receive<FetchFinished>(Handle);
    }

    public static Props Props(IFlowMetadataSource source, MetadataSettings settings, NodeMetrics metrics, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(time);
        return Akka.Actor.Props.Create(() => new FlowMetadataActor(source, settings, metrics, time));
    }

    private void Handle(MetadataProtocol.GetFlowMetadata request)
    {
        var flow = request.Flow;
        if (!_settings.Enabled)
        {
            Sender.Tell(new MetadataProtocol.FlowMetadataResult(flow, new MetadataResult.Failed(
                MetadataFailure.Disabled, "metadata fetching is switched off", _time.GetUtcNow())));
            return;
        }
        if (_cache.TryGet(flow, out var cached))
        {
            _cacheHits.Increment();
            Sender.Tell(new MetadataProtocol.FlowMetadataResult(flow, cached));
            return;
        }
        if (_waiting.TryGetValue(flow, out var waiters))
        {
            waiters.Add(Sender);
            return;
        }
        _waiting[flow] = [Sender];
        _source.FetchAsync(flow, _stopping.Token).PipeTo(
            Self,
            success: result => new FetchFinished(flow, result),
            failure: e => new FetchFinished(flow, new MetadataResult.Failed(
                MetadataFailure.Internal, $"the fetch threw: {e.GetBaseException().Message}",
                MetadataLifetime.ForNegative(_time.GetUtcNow(), null, _settings))));
    }

    private void Handle(FetchFinished finished)
    {
        _cache.Put(finished.Flow, finished.Result);
        if (_waiting.Remove(finished.Flow, out var waiters))
        {
            var reply = new MetadataProtocol.FlowMetadataResult(finished.Flow, finished.Result);
            foreach (var waiter in waiters)
            {
                waiter.Tell(reply);
            }
        }
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        base.PostStop();
    }

    private sealed record FetchFinished(SourceGroup Flow, MetadataResult Result);
}
