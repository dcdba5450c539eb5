using System.Collections.Immutable;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

public static class BudgetProtocol
{
    /// <summary>Asks the budget for the admitted flows; answered with <see cref="AdmittedFlows"/>.</summary>
    public sealed class GetAdmitted
    {
        public static readonly GetAdmitted Instance = new();
        private GetAdmitted() { }
    }

    public sealed record AdmittedFlows(ImmutableArray<SourceGroup> Flows, ImmutableArray<string> Origins);

    /// <summary>The budget's own timer: re-send every source's desired groups, so lost messages heal.</summary>
    public sealed class ReconcileTick
    {
        public static readonly ReconcileTick Instance = new();
        private ReconcileTick() { }
    }
}
