using System.Collections.Immutable;
using System.Net;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tests.Budget;

public class AdmissionPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly SourceGroup A = new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"));
    private static readonly SourceGroup B = new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.2"));
    private static readonly SourceGroup C = new(IPAddress.Parse("203.0.113.7"), IPAddress.Parse("232.9.9.9"));
    private readonly AdmissionPolicy _policy = new(TimeSpan.FromSeconds(210));

    [Fact]
    public void Every_demanded_flow_not_yet_admitted_is_admitted()
    {
        var state = BudgetState.Empty
            .WithSnapshot("n1/pim/eth0", [A, B], T0)
            .WithDemandChanged("n2/joinfile/x", C, joined: true, T0);

        var decision = _policy.Evaluate(state, T0, []);

        Assert.Equal([A, B, C], decision.Admit.OrderBy(f => f.ToString(), StringComparer.Ordinal));
        Assert.Empty(decision.Release);
    }

    [Fact]
    public void An_admitted_flow_is_not_admitted_twice()
    {
        var state = BudgetState.Empty.Apply(new BudgetEvents.FlowAdmitted(A, T0)).WithSnapshot("o", [A], T0);
        Assert.True(_policy.Evaluate(state, T0, []).IsEmpty);
    }

    [Fact]
    public void An_explicit_leave_releases_at_once_when_no_other_origin_wants_the_flow()
    {
        var state = BudgetState.Empty.Apply(new BudgetEvents.FlowAdmitted(A, T0))
            .WithDemandChanged("o", A, joined: true, T0)
            .WithDemandChanged("o", A, joined: false, T0.AddSeconds(1));

        var decision = _policy.Evaluate(state, T0.AddSeconds(1), [A]);

        Assert.Equal((A, ReleaseReason.Left), Assert.Single(decision.Release));
    }

    [Fact]
    public void A_leave_from_one_origin_keeps_the_flow_while_another_origin_wants_it()
    {
        var state = BudgetState.Empty.Apply(new BudgetEvents.FlowAdmitted(A, T0))
            .WithSnapshot("n1/pim/eth0", [A], T0)
            .WithSnapshot("n2/pim/eth0", [A], T0)
            .WithDemandChanged("n1/pim/eth0", A, joined: false, T0.AddSeconds(1));

        Assert.True(_policy.Evaluate(state, T0.AddSeconds(1), [A]).IsEmpty);
    }

    [Fact]
    public void An_unclaimed_flow_is_kept_for_the_grace_period_then_released()
    {
        // After a restart the admitted set comes back from the journal before any origin has spoken.
        var state = BudgetState.Empty.Apply(new BudgetEvents.FlowAdmitted(A, T0));

        Assert.True(_policy.Evaluate(state, T0.AddSeconds(209), []).IsEmpty);
        Assert.Equal((A, ReleaseReason.Unclaimed), Assert.Single(_policy.Evaluate(state, T0.AddSeconds(210), []).Release));
    }

    [Fact]
    public void A_claim_restarts_the_grace_period()
    {
        var state = BudgetState.Empty.Apply(new BudgetEvents.FlowAdmitted(A, T0))
            .WithSnapshot("o", [A], T0.AddSeconds(200))
            .WithSnapshot("o", [], T0.AddSeconds(201));

        Assert.True(_policy.Evaluate(state, T0.AddSeconds(400), []).IsEmpty);
        Assert.Single(_policy.Evaluate(state, T0.AddSeconds(410), []).Release);
    }

    [Fact]
    public void Silent_origins_are_forgotten_and_their_flows_stop_being_demanded()
    {
        var state = BudgetState.Empty
            .WithSnapshot("gone", [A], T0)
            .WithSnapshot("alive", [B], T0.AddSeconds(40))
            .WithoutSilentOrigins(T0.AddSeconds(10));

        Assert.Equal(ImmutableHashSet.Create(B), state.Demanded());
    }

    [Fact]
    public void Desired_groups_are_grouped_by_source()
    {
        var state = new[] { A, B, C }.Aggregate(BudgetState.Empty, (s, f) => s.Apply(new BudgetEvents.FlowAdmitted(f, T0)));

        var bySource = state.DesiredGroupsBySource();

        Assert.Equal(2, bySource.Count);
        Assert.Equal([A.Group, B.Group], bySource[A.Source].ToArray());
        Assert.Equal([C.Group], bySource[C.Source].ToArray());
    }
}
