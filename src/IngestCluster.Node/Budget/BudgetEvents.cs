using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>Why the budget released an admitted flow. Persisted as its number: never renumber.</summary>
public enum ReleaseReason
{
    /// <summary>The origin that had it said it left (a Prune, a line gone from a joinfile).</summary>
    Left = 1,
    /// <summary>No origin claimed it for the demand grace period.</summary>
    Unclaimed = 2,
    /// <summary>The admitted flows no longer fit in the (lowered) limit, and this one ranks lowest.</summary>
    LimitLowered = 3,
    /// <summary>A flow of the same source with a higher CBACC priority was dropped.</summary>
    SiblingBlocked = 4,
}

/// <summary>What the budget persists: its admission decisions, never the demand (demand is soft state that
/// every origin re-sends in its snapshots). Past tense, as events are. <see cref="BudgetSerializer"/> writes them;
/// their manifests and bytes are pinned by golden tests, because the journal replays them for ever.</summary>
public static class BudgetEvents
{
    public interface IBudgetEvent : BudgetProtocol.IBudgetWire;

    /// <summary>A flow was admitted, with the bitrate it was admitted at and its offload, in bit/s (0 where the
    /// budget has no metadata for it).</summary>
    public sealed record FlowAdmitted(SourceGroup Flow, DateTimeOffset At, long BitsPerSecond = 0, long OffloadBitsPerSecond = 0) : IBudgetEvent;

    public sealed record FlowReleased(SourceGroup Flow, DateTimeOffset At, ReleaseReason Reason) : IBudgetEvent;

    /// <summary>A demanded flow may not be admitted (or an admitted one was dropped for the limit): it is held down,
    /// not reconsidered, until <paramref name="Until"/>. <paramref name="Detail"/> says why, for people.</summary>
    public sealed record FlowBlocked(SourceGroup Flow, DateTimeOffset At, DateTimeOffset Until, BlockReason Reason, string Detail) : IBudgetEvent;

    /// <summary>The operator set the limit at run time (admin API); null <paramref name="BitsPerSecond"/> hands it
    /// back to the settings' <c>Budget:Limit</c>.</summary>
    public sealed record LimitChanged(DateTimeOffset At, long? BitsPerSecond) : IBudgetEvent;

    /// <summary>The snapshot: the admitted set with when each was admitted, the hold-downs in force, and the limit
    /// set at run time (null: the settings' limit).</summary>
    public sealed record BudgetSnapshot(
        IReadOnlyList<FlowAdmitted> Admitted,
        IReadOnlyList<FlowBlocked>? Blocked = null,
        long? LimitOverride = null) : BudgetProtocol.IBudgetWire
    {
        public IReadOnlyList<FlowBlocked> Blocked { get; } = Blocked ?? [];
    }
}
