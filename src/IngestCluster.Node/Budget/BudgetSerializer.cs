using Akka.Actor;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Hosting.Wire;

namespace IngestCluster.Node.Budget;

/// <summary>The budget's wire and journal format. Event manifests start with <c>e.</c>, the snapshot's with
/// <c>s.</c>; a manifest, once written to a journal, is never reused for another shape.</summary>
public sealed class BudgetSerializer(ExtendedActorSystem system, NodeMetrics? metrics = null)
    : WireSerializer(system, metrics, "budget", WireTypes)
{
    public const string Name = "ingest-budget";

    public override int Identifier => 4102;

    public static readonly IReadOnlyList<WireType> WireTypes =
    [
        WireType.Of<BudgetProtocol.GetAdmitted>("ga", (_, _) => { }, (ref WireReader _) => BudgetProtocol.GetAdmitted.Instance),
        WireType.Of<BudgetProtocol.AdmittedFlows>("af",
            (w, m) => w.List(m.Flows, (w, f) => w.Flow(f)).List(m.Origins, (w, o) => w.String(o)),
            (ref WireReader r) => new BudgetProtocol.AdmittedFlows(r.Flows(), r.Strings())),
        WireType.Of<BudgetProtocol.SourceHandedOff>("sh",
            (w, m) => w.Address(m.Source),
            (ref WireReader r) => new BudgetProtocol.SourceHandedOff(r.Address())),
        WireType.Of<BudgetEvents.FlowAdmitted>("e.fa", WriteAdmitted, (ref WireReader r) => ReadAdmitted(ref r)),
        WireType.Of<BudgetEvents.FlowReleased>("e.fr",
            (w, e) => w.Flow(e.Flow).Time(e.At).UInt((ulong)e.Reason),
            (ref WireReader r) => new BudgetEvents.FlowReleased(r.Flow(), r.Time(), r.Enum<ReleaseReason>())),
        WireType.Of<BudgetEvents.BudgetSnapshot>("s.b",
            (w, s) => w.List(s.Admitted, WriteAdmitted),
            (ref WireReader r) =>
            {
                int count = r.Count();
                var admitted = new List<BudgetEvents.FlowAdmitted>(count);
                for (int i = 0; i < count; i++)
                {
                    admitted.Add(ReadAdmitted(ref r));
                }
                return new BudgetEvents.BudgetSnapshot(admitted);
            }),
    ];

    private static void WriteAdmitted(WireWriter w, BudgetEvents.FlowAdmitted e) =>
        w.Flow(e.Flow).Time(e.At).Int(e.BitsPerSecond).Int(e.OffloadBitsPerSecond);

    private static BudgetEvents.FlowAdmitted ReadAdmitted(ref WireReader r) => new(r.Flow(), r.Time(), r.Int(), r.Int());
}
