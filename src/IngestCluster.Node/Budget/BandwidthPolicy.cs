using System.Collections.Immutable;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>A flow's CBACC data from DORMS: its bitrate and its priority among its source's flows.</summary>
/// <param name="Priority">CBACC priority; higher is kept in preference when one of the source's flows must go.</param>
public readonly record struct FlowMetadata(Bitrate Bitrate, long Priority = FlowMetadata.DefaultPriority)
{
    /// <summary>The CBACC default, also used for a flow without metadata.</summary>
    public const long DefaultPriority = 256;
}

/// <summary>A flow somebody asks for now.</summary>
/// <param name="Population">How many receivers want it, at least 1: the joinfile's third column, or the number of
/// downstream reporters.</param>
/// <param name="Metadata">Its CBACC data, or null when DORMS has none (yet).</param>
public readonly record struct DemandedFlow(SourceGroup Flow, int Population, FlowMetadata? Metadata = null);

/// <summary>A flow the budget has admitted.</summary>
/// <param name="Bitrate">Its bitrate when it was last evaluated.</param>
/// <param name="Offload">Bits/s the network is spared by carrying it once: (population − 1) × bitrate.</param>
/// <param name="LastClaimed">When some origin last asked for it.</param>
public readonly record struct AdmittedFlow(Bitrate Bitrate, long Offload, DateTimeOffset LastClaimed);

/// <summary>Everything the policy decides from. Nothing else: no clock, no settings object.</summary>
public sealed record PolicyInput
{
    /// <summary>The bandwidth all admitted flows together may use.</summary>
    public required Bitrate Limit { get; init; }

    /// <summary>The bitrate assumed for a flow without CBACC metadata (<c>Budget:DefaultBitrate</c>); null for none.</summary>
    public Bitrate? DefaultBitrate { get; init; }

    /// <summary>The flows asked for now, each once.</summary>
    public ImmutableArray<DemandedFlow> Demanded { get; init; } = [];

    /// <summary>The flows admitted now (the budget's own set, kept as a flat table the evaluation joins with).</summary>
    public AdmittedSet Admitted { get; init; } = AdmittedSet.Empty;

    /// <summary>Flows that were blocked, with the time until which they are not reconsidered.</summary>
    public ImmutableDictionary<SourceGroup, DateTimeOffset> HeldDownUntil { get; init; } = ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty;

    /// <summary>Flows whose last origin said it left (rather than going quiet) since the last evaluation.</summary>
    public ImmutableHashSet<SourceGroup> ExplicitlyLeft { get; init; } = [];

    /// <summary>How long an admitted flow that nobody claims is kept (a failover must not cut a live flow).</summary>
    public TimeSpan DemandGrace { get; init; } = TimeSpan.FromSeconds(210);

    /// <summary>How long a blocked or dropped flow is left alone before it is considered again.</summary>
    public TimeSpan BlockedHoldDown { get; init; } = TimeSpan.FromSeconds(150);

    public required DateTimeOffset Now { get; init; }

    /// <summary>
    /// The input for the next evaluation once <paramref name="decision"/> is carried out: admitted flows updated
    /// (new ones claimed now, demanded ones re-claimed now with their current bitrate and offload), the new
    /// hold-downs added and the expired ones dropped, and <see cref="ExplicitlyLeft"/> emptied.
    /// </summary>
    public PolicyInput After(PolicyDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        var admitted = Admitted;
        foreach (var release in decision.Release)
        {
            admitted = admitted.Remove(release.Flow);
        }
        var demandedFlows = Demanded.IsDefault ? [] : Demanded;
        foreach (var demanded in demandedFlows)
        {
            if (admitted.TryGetValue(demanded.Flow, out var flow))
            {
                var bitrate = BandwidthPolicy.BitrateOf(demanded, DefaultBitrate) ?? flow.Bitrate;
                admitted = admitted.SetItem(demanded.Flow, new AdmittedFlow(bitrate, BandwidthPolicy.OffloadOf(demanded.Population, bitrate.BitsPerSecond), Now));
            }
        }
        foreach (var admit in decision.Admit)
        {
            admitted = admitted.SetItem(admit.Flow, new AdmittedFlow(admit.Bitrate, admit.Offload, Now));
        }

        var heldDown = HeldDownUntil.ToBuilder();
        foreach (var (flow, until) in HeldDownUntil)
        {
            if (until <= Now)
            {
                heldDown.Remove(flow);
            }
        }
        foreach (var block in decision.Block)
        {
            heldDown[block.Flow] = block.Until;
        }
        foreach (var release in decision.Release)
        {
            if (release.HeldDownUntil is { } until)
            {
                heldDown[release.Flow] = until;
            }
        }
        return this with { Admitted = admitted, HeldDownUntil = heldDown.ToImmutable(), ExplicitlyLeft = [] };
    }
}

/// <summary>Why a flow is held down. Persisted as its number (in <see cref="BudgetEvents.FlowBlocked"/>): never renumber.</summary>
public enum BlockReason
{
    /// <summary>No CBACC metadata and no default bitrate: the flow counts as larger than the limit.</summary>
    NoMetadata = 1,
    /// <summary>It does not fit in what the admitted flows leave of the limit.</summary>
    OverLimit = 2,
    /// <summary>A flow of the same source with a higher CBACC priority is blocked.</summary>
    SiblingBlocked = 3,
    /// <summary>It was admitted, and dropped when the admitted flows no longer fitted (the limit fell).</summary>
    Dropped = 4,
}

public readonly record struct FlowAdmission(SourceGroup Flow, Bitrate Bitrate, long Offload);

/// <summary>A flow that may not be admitted, held down until <paramref name="Until"/>.</summary>
/// <param name="Needed">What admitting it would have taken: its bitrate and that of the higher-priority flows of
/// its source it needs (none for <see cref="BlockReason.NoMetadata"/>).</param>
/// <param name="Left">What was left of the limit when it was considered.</param>
/// <param name="Sibling">For <see cref="BlockReason.SiblingBlocked"/>, the higher-priority flow that is blocked.</param>
public readonly record struct FlowBlock(SourceGroup Flow, DateTimeOffset Until, BlockReason Reason, Bitrate Needed, Bitrate Left, SourceGroup? Sibling)
{
    /// <summary>Why, for people (status and logs). Formatted only when asked for.</summary>
    public string Sentence => Reason switch
    {
        BlockReason.NoMetadata => "no CBACC metadata and no Budget:DefaultBitrate",
        BlockReason.OverLimit => $"needs {Needed} but only {Left} of the limit is left",
        BlockReason.SiblingBlocked => $"{Sibling}, a flow of the same source with a higher CBACC priority, is blocked",
        _ => Reason.ToString(),
    };
}

/// <summary>An admitted flow to let go; <paramref name="HeldDownUntil"/> is set when it was dropped for the limit.</summary>
public readonly record struct FlowRelease(SourceGroup Flow, ReleaseReason Reason, DateTimeOffset? HeldDownUntil = null);

/// <summary>One evaluation's outcome. <see cref="Used"/> is the admitted total once it is carried out.</summary>
public sealed record PolicyDecision(
    ImmutableArray<FlowAdmission> Admit,
    ImmutableArray<FlowBlock> Block,
    ImmutableArray<FlowRelease> Release,
    Bitrate Used)
{
    public bool IsEmpty => Admit.IsEmpty && Block.IsEmpty && Release.IsEmpty;
}

/// <summary>
/// The bandwidth admission policy, a pure function of <see cref="PolicyInput"/> (see docs/design.md, "Bandwidth
/// admission", for the rules and why). In short:
/// <list type="number">
/// <item>A flow's bitrate is its CBACC bitrate, else the default; with neither it is blocked (NoMetadata). An
/// admitted flow whose metadata went away keeps the bitrate it was admitted with: a DORMS outage cuts nothing.</item>
/// <item>offload = (population − 1) × bitrate. Rank: larger offload first, then smaller bitrate, then (S,G) in
/// address order (IPv4 before IPv6, byte by byte, source first).</item>
/// <item>An admitted flow nobody demands goes at once if explicitly left, after <c>DemandGrace</c> unclaimed, and
/// until then still counts.</item>
/// <item>Admitted flows are never dropped for new demand. Only when they no longer fit (the limit was lowered, or a
/// bitrate grew) are they taken in rank order and the ones that do not fit dropped and held down.</item>
/// <item>New candidates (not admitted, not held down) are taken in rank order, each admitted if it fits in what is
/// left, else blocked and held down for <c>BlockedHoldDown</c>.</item>
/// <item>CBACC priority orders one source's flows: a flow is admitted (or kept) only with every higher-priority
/// flow of its source, and when one is blocked (or dropped) every lower-priority one is too.</item>
/// </list>
/// With the sibling rule, each of the two passes picks the feasible set that is first in rank order
/// (lexicographically): a candidate is admitted together with its source's higher-priority candidates when they
/// all fit. The property tests compare this with a brute force over all subsets.
/// </summary>
public static partial class BandwidthPolicy
{
    /// <summary>Decides. Throws <see cref="ArgumentException"/> for caller misuse: a flow demanded twice, a
    /// population below 1.</summary>
    public static PolicyDecision Evaluate(PolicyInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var evaluation = new Evaluation(input);
        return evaluation.Run();
    }

    /// <summary>Rule 1: the metadata bitrate, else the default, else null (unknown: larger than any limit).</summary>
    internal static Bitrate? BitrateOf(DemandedFlow flow, Bitrate? defaultBitrate) =>
        flow.Metadata is { } metadata ? metadata.Bitrate : defaultBitrate;

    /// <summary>Rule 2, saturating at <see cref="long.MaxValue"/>.</summary>
    internal static long OffloadOf(int population, long bitsPerSecond)
    {
        if (population < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(population), population, "a demanded flow has a population of at least 1");
        }
        var offload = (Int128)(population - 1) * bitsPerSecond;
        return offload > long.MaxValue ? long.MaxValue : (long)offload;
    }
}
