using System.Collections.Immutable;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>The budget's decisions for one evaluation: flows to admit and flows to release (with why).</summary>
public sealed record AdmissionDecision(
    ImmutableArray<SourceGroup> Admit,
    ImmutableArray<(SourceGroup Flow, ReleaseReason Reason)> Release)
{
    public bool IsEmpty => Admit.IsEmpty && Release.IsEmpty;
}

/// <summary>
/// The admission policy: a pure function of the budget's state and the time. For now it admits every demanded
/// flow (no bandwidth limit yet: the CBACC budget fills that in). It releases a flow that nobody demands any
/// more once no origin has claimed it for <see cref="DemandGrace"/>: an explicit leave releases at once, because
/// the origin that had it said so, but a flow that merely went unclaimed (say after a restart, before the routers
/// refresh their Joins) is kept for the grace period, so a failover never cuts a live flow.
/// </summary>
public sealed class AdmissionPolicy(TimeSpan demandGrace)
{
    public TimeSpan DemandGrace { get; } = demandGrace;

    public AdmissionDecision Evaluate(BudgetState state, DateTimeOffset now, ImmutableHashSet<SourceGroup> explicitlyLeft)
    {
        var demanded = state.Demanded();
        var admit = demanded.Where(f => !state.Admitted.ContainsKey(f))
            .OrderBy(f => f.ToString(), StringComparer.Ordinal)
            .ToImmutableArray();

        var release = ImmutableArray.CreateBuilder<(SourceGroup, ReleaseReason)>();
        foreach (var flow in state.Admitted.Keys.OrderBy(f => f.ToString(), StringComparer.Ordinal))
        {
            if (demanded.Contains(flow))
            {
                continue;
            }
            if (explicitlyLeft.Contains(flow))
            {
                release.Add((flow, ReleaseReason.Left));
            }
            else if (now - state.LastClaimed.GetValueOrDefault(flow, DateTimeOffset.MinValue) >= DemandGrace)
            {
                release.Add((flow, ReleaseReason.Unclaimed));
            }
        }
        return new AdmissionDecision(admit, release.ToImmutable());
    }
}
