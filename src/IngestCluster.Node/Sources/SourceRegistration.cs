using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;

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

/// <summary>Registers the Sources stage with Akka.Hosting.</summary>
public static class SourceRegistration
{
    /// <summary>The shard region's type name.</summary>
    public const string TypeName = "source";

    /// <summary>Adds the sharded <see cref="SourceActor"/> region, registered as <see cref="SourceRegion"/>.
    /// <paramref name="dependencies"/> is called once, when the region starts.</summary>
    public static AkkaConfigurationBuilder WithSourceShardRegion(
        this AkkaConfigurationBuilder builder,
        Func<ActorSystem, IActorRegistry, SourceActorDependencies> dependencies,
        int maxShards = 100,
        ShardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dependencies);
        return builder.WithShardRegion<SourceRegion>(
            TypeName,
            (system, registry) =>
            {
                var deps = dependencies(system, registry) with { UnderSharding = true };
                return entityId => SourceActor.PropsForEntity(entityId, deps);
            },
            new SourceMessageExtractor(maxShards),
            options ?? new ShardOptions());
    }
}
