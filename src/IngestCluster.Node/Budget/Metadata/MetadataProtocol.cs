using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>The messages of <see cref="FlowMetadataActor"/>: a query and its reply.</summary>
public static class MetadataProtocol
{
    /// <summary>How big is <paramref name="Flow"/>? Answered with <see cref="FlowMetadataResult"/>, from the cache or
    /// after a fetch.</summary>
    public sealed record GetFlowMetadata(SourceGroup Flow);

    /// <summary>The answer to <see cref="GetFlowMetadata"/>.</summary>
    public sealed record FlowMetadataResult(SourceGroup Flow, MetadataResult Result);
}
