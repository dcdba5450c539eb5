using Akka.Cluster.Sharding;

namespace IngestCluster.Node.Sources;

/// <summary>Routes <see cref="ISourceMessage"/>s to the entity of their source (entity id = source address text).</summary>
public sealed class SourceMessageExtractor(int maxShards) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => message switch
    {
        ISourceMessage source => source.SourceKey,
        _ => null,
    };
}

/// <summary>Marker for the source shard region in the actor registry.</summary>
public sealed class SourceRegion;
