using System.Collections.Immutable;
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
        WireType.Of<BudgetEvents.FlowBlocked>("e.fb", WriteBlocked, (ref WireReader r) => ReadBlocked(ref r)),
        WireType.Of<BudgetEvents.LimitChanged>("e.lc",
            (w, e) => w.Time(e.At).Optional(e.BitsPerSecond),
            (ref WireReader r) => new BudgetEvents.LimitChanged(r.Time(), r.OptionalInt())),
        WireType.Of<BudgetEvents.BudgetSnapshot>("s.b2",
            (w, s) => w.List(s.Admitted, WriteAdmitted).List(s.Blocked, WriteBlocked).Optional(s.LimitOverride),
            (ref WireReader r) =>
            {
                var admitted = ReadAdmittedList(ref r);
                int count = r.Count();
                var blocked = new List<BudgetEvents.FlowBlocked>(count);
                for (int i = 0; i < count; i++)
                {
                    blocked.Add(ReadBlocked(ref r));
                }
                return new BudgetEvents.BudgetSnapshot(admitted, blocked, r.OptionalInt());
            }),
        // The snapshot before hold-downs and the run-time limit were kept: the admitted set only.
        WireType.Legacy<BudgetEvents.BudgetSnapshot>("s.b", (ref WireReader r) => new BudgetEvents.BudgetSnapshot(ReadAdmittedList(ref r))),
        WireType.Of<BudgetProtocol.GetBudget>("gb", (_, _) => { }, (ref WireReader _) => BudgetProtocol.GetBudget.Instance),
        WireType.Of<BudgetProtocol.SetLimit>("sl",
            (w, m) => w.Optional(m.BitsPerSecond),
            (ref WireReader r) => new BudgetProtocol.SetLimit(r.OptionalInt())),
        WireType.Of<BudgetProtocol.BudgetReport>("br", WriteReport, (ref WireReader r) => ReadReport(ref r)),
    ];

    private static List<BudgetEvents.FlowAdmitted> ReadAdmittedList(ref WireReader r)
    {
        int count = r.Count();
        var admitted = new List<BudgetEvents.FlowAdmitted>(count);
        for (int i = 0; i < count; i++)
        {
            admitted.Add(ReadAdmitted(ref r));
        }
        return admitted;
    }

    private static void WriteBlocked(WireWriter w, BudgetEvents.FlowBlocked e) =>
        w.Flow(e.Flow).Time(e.At).Time(e.Until).UInt((ulong)e.Reason).String(e.Detail);

    private static BudgetEvents.FlowBlocked ReadBlocked(ref WireReader r) =>
        new(r.Flow(), r.Time(), r.Time(), r.Enum<BlockReason>(), r.String());

    private static void WriteReport(WireWriter w, BudgetProtocol.BudgetReport m) =>
        w.Optional(m.Limit).String(m.LimitFrom).Int(m.Used)
            .List(m.Admitted, (w, a) => w.Flow(a.Flow).Int(a.BitsPerSecond).Int(a.OffloadBitsPerSecond).UInt((ulong)a.Population).String(a.BitrateFrom))
            .List(m.Blocked, (w, b) => w.Flow(b.Flow).Time(b.Until).String(b.Reason).String(b.Detail).UInt((ulong)b.Population))
            .List(m.Pending, (w, p) => w.Flow(p.Flow).Time(p.Since))
            .List(m.Origins, (w, o) => w.String(o));

    private static BudgetProtocol.BudgetReport ReadReport(ref WireReader r)
    {
        long? limit = r.OptionalInt();
        string from = r.String();
        long used = r.Int();
        int count = r.Count();
        var admitted = ImmutableArray.CreateBuilder<BudgetProtocol.AdmittedView>(count);
        for (int i = 0; i < count; i++)
        {
            admitted.Add(new(r.Flow(), r.Int(), r.Int(), r.Int32(), r.String()));
        }
        count = r.Count();
        var blocked = ImmutableArray.CreateBuilder<BudgetProtocol.BlockedView>(count);
        for (int i = 0; i < count; i++)
        {
            blocked.Add(new(r.Flow(), r.Time(), r.String(), r.String(), r.Int32()));
        }
        count = r.Count();
        var pending = ImmutableArray.CreateBuilder<BudgetProtocol.PendingView>(count);
        for (int i = 0; i < count; i++)
        {
            pending.Add(new(r.Flow(), r.Time()));
        }
        return new BudgetProtocol.BudgetReport(limit, from, used, admitted.MoveToImmutable(), blocked.MoveToImmutable(),
            pending.MoveToImmutable(), r.Strings());
    }

    private static void WriteAdmitted(WireWriter w, BudgetEvents.FlowAdmitted e) =>
        w.Flow(e.Flow).Time(e.At).Int(e.BitsPerSecond).Int(e.OffloadBitsPerSecond);

    private static BudgetEvents.FlowAdmitted ReadAdmitted(ref WireReader r) => new(r.Flow(), r.Time(), r.Int(), r.Int());
}
