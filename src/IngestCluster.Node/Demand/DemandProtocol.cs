using System.Collections.Immutable;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Demand;

/// <summary>
/// What the demand stage tells the budget singleton. An <em>origin</em> is one source of demand on one node:
/// <c>"{node}/pim/{interface}"</c> or <c>"{node}/joinfile/{path}"</c>. The budget's view of demand is the union
/// of every origin's flows.
/// </summary>
public static class DemandProtocol
{
    /// <summary>Marks the demand stage's messages that cross nodes; <see cref="DemandSerializer"/> carries them.</summary>
    public interface IDemandWire;

    /// <summary>One origin's (S,G) was joined (<paramref name="Joined"/> true) or left.</summary>
    public sealed record DemandChanged(string Origin, SourceGroup Flow, bool Joined) : IDemandWire;

    /// <summary>The whole current demand of one origin. It replaces what the budget knew of that origin, so a
    /// lost <see cref="DemandChanged"/> heals, and a new singleton converges. Sent every few seconds.</summary>
    public sealed record DemandSnapshot(string Origin, ImmutableArray<SourceGroup> Flows) : IDemandWire;
}
