using System.Collections.Immutable;
using Akka.Actor;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Hosting.Wire;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Demand;

/// <summary>The demand stage's wire format: what every node's listeners tell the budget singleton.</summary>
public sealed class DemandSerializer(ExtendedActorSystem system, NodeMetrics? metrics = null)
    : WireSerializer(system, metrics, "demand", WireTypes)
{
    public const string Name = "ingest-demand";

    public override int Identifier => 4101;

    public static readonly IReadOnlyList<WireType> WireTypes =
    [
        // Since the budget weighs flows by population: the flow's population follows it.
        WireType.Of<DemandProtocol.DemandChanged>("dc.p",
            (w, m) => w.String(m.Origin).Flow(m.Flow).Bool(m.Joined).UInt((ulong)m.Population),
            (ref WireReader r) => new DemandProtocol.DemandChanged(r.String(), r.Flow(), r.Bool(), r.Population())),
        WireType.Of<DemandProtocol.DemandSnapshot>("ds.p",
            (w, m) => w.String(m.Origin).List(Enumerable.Range(0, m.Flows.Length).ToList(),
                (w, i) => w.Flow(m.Flows[i]).UInt((ulong)m.PopulationAt(i))),
            (ref WireReader r) =>
            {
                string origin = r.String();
                int count = r.Count();
                var flows = ImmutableArray.CreateBuilder<SourceGroup>(count);
                var populations = ImmutableArray.CreateBuilder<int>(count);
                for (int i = 0; i < count; i++)
                {
                    flows.Add(r.Flow());
                    populations.Add(r.Population());
                }
                return new DemandProtocol.DemandSnapshot(origin, flows.MoveToImmutable(), populations.MoveToImmutable());
            }),
        // The shapes before populations (every flow 1), still read from members not yet upgraded.
        WireType.Legacy<DemandProtocol.DemandChanged>("dc",
            (ref WireReader r) => new DemandProtocol.DemandChanged(r.String(), r.Flow(), r.Bool())),
        WireType.Legacy<DemandProtocol.DemandSnapshot>("ds",
            (ref WireReader r) => new DemandProtocol.DemandSnapshot(r.String(), r.Flows())),
    ];
}
