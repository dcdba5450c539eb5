using Akka.Actor;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Hosting.Wire;

namespace IngestCluster.Node.Demand;

/// <summary>The demand stage's wire format: what every node's listeners tell the budget singleton.</summary>
public sealed class DemandSerializer(ExtendedActorSystem system, NodeMetrics? metrics = null)
    : WireSerializer(system, metrics, "demand", WireTypes)
{
    public const string Name = "ingest-demand";

    public override int Identifier => 4101;

    public static readonly IReadOnlyList<WireType> WireTypes =
    [
        WireType.Of<DemandProtocol.DemandChanged>("dc",
            (w, m) => w.String(m.Origin).Flow(m.Flow).Bool(m.Joined),
            (ref WireReader r) => new DemandProtocol.DemandChanged(r.String(), r.Flow(), r.Bool())),
        WireType.Of<DemandProtocol.DemandSnapshot>("ds",
            (w, m) => w.String(m.Origin).List(m.Flows, (w, f) => w.Flow(f)),
            (ref WireReader r) => new DemandProtocol.DemandSnapshot(r.String(), r.Flows())),
    ];
}
