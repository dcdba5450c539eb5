using System.Net;

namespace IngestCluster.Protocols;

/// <summary>A source-specific multicast channel (S,G): the unit of demand, admission and forwarding.</summary>
public readonly record struct SourceGroup(IPAddress Source, IPAddress Group)
{
    public override string ToString() => $"({Source},{Group})";
}
