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
    /// <param name="Population">How many receivers this origin stands for, at least 1: a joinfile line's third
    /// column, else 1 (one PIM interface is one reporter). The budget adds the origins' populations up.</param>
    public sealed record DemandChanged(string Origin, SourceGroup Flow, bool Joined, int Population = 1) : IDemandWire
    {
        public int Population { get; } = Math.Max(1, Population);
    }

    /// <summary>The whole current demand of one origin. It replaces what the budget knew of that origin, so a
    /// lost <see cref="DemandChanged"/> heals, and a new singleton converges. Sent every few seconds.</summary>
    /// <param name="Populations">Each flow's population, in the order of <paramref name="Flows"/>; empty (or
    /// default) means 1 for every flow.</param>
    public sealed record DemandSnapshot(string Origin, ImmutableArray<SourceGroup> Flows, ImmutableArray<int> Populations = default) : IDemandWire
    {
        /// <summary>The population of <see cref="Flows"/>[<paramref name="index"/>], at least 1.</summary>
        public int PopulationAt(int index) =>
            Populations.IsDefaultOrEmpty || index >= Populations.Length ? 1 : Math.Max(1, Populations[index]);

        /// <summary>The snapshot of a set of flows with their populations.</summary>
        public static DemandSnapshot Of(string origin, IReadOnlyCollection<KeyValuePair<SourceGroup, int>> flows) =>
            new(origin, [.. flows.Select(kv => kv.Key)], [.. flows.Select(kv => kv.Value)]);
    }

    /// <summary>A population as an origin reports it: a joinfile's count (0 or absent: 1), clamped to an int.</summary>
    public static int PopulationOf(long? count) => count is { } c and > 1 ? (int)Math.Min(c, int.MaxValue) : 1;
}
