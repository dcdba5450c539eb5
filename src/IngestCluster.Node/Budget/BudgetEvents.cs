using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>What the budget persists: its admission decisions, never the demand (demand is soft state that
/// every origin re-sends in its snapshots). Past tense, as events are.</summary>
public static class BudgetEvents
{
    public interface IBudgetEvent;

    public sealed record FlowAdmitted(string Source, string Group, DateTimeOffset At) : IBudgetEvent
    {
        public static FlowAdmitted Of(SourceGroup flow, DateTimeOffset at) => new(flow.Source.ToString(), flow.Group.ToString(), at);
    }

    public sealed record FlowReleased(string Source, string Group, DateTimeOffset At, string Reason) : IBudgetEvent
    {
        public static FlowReleased Of(SourceGroup flow, DateTimeOffset at, string reason) =>
            new(flow.Source.ToString(), flow.Group.ToString(), at, reason);
    }

    /// <summary>The snapshot: the admitted set with when each was admitted.</summary>
    public sealed record BudgetSnapshot(IReadOnlyList<FlowAdmitted> Admitted);
}
