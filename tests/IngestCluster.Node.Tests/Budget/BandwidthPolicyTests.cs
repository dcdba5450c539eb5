using System.Collections.Immutable;
using System.Net;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tests.Budget;

public class BandwidthPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan HoldDown = TimeSpan.FromSeconds(150);
    private static readonly SourceGroup A = Flow("198.51.100.12", "232.1.1.1");
    private static readonly SourceGroup B = Flow("198.51.100.12", "232.1.1.2");
    private static readonly SourceGroup C = Flow("203.0.113.7", "232.9.9.9");

    // Rule 1: the bitrate.

    [Fact]
    public void Unknown_flow_without_default_is_blocked_as_larger_than_the_limit()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Gbps(10), new DemandedFlow(A, 1)));

        var block = Assert.Single(decision.Block);
        Assert.Equal(A, block.Flow);
        Assert.Equal(BlockReason.NoMetadata, block.Reason);
        Assert.Equal("no CBACC metadata and no Budget:DefaultBitrate", block.Sentence);
        Assert.Equal(T0 + HoldDown, block.Until);
        Assert.Empty(decision.Admit);
        Assert.Equal(Bitrate.Zero, decision.Used);
    }

    [Fact]
    public void A_flow_without_metadata_is_counted_at_the_default_bitrate()
    {
        var input = Input(Gbps(10), new DemandedFlow(A, 3)) with { DefaultBitrate = Mbps(5) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Equal([new FlowAdmission(A, Mbps(5), 10_000_000)], Listed(decision.Admit));
        Assert.Equal(Mbps(5), decision.Used);
    }

    [Fact]
    public void Metadata_bitrate_wins_over_the_default()
    {
        var input = Input(Gbps(10), Demand(A, mbps: 8)) with { DefaultBitrate = Mbps(5) };

        Assert.Equal(Mbps(8), Assert.Single(BandwidthPolicy.Evaluate(input).Admit).Bitrate);
    }

    [Fact]
    public void An_admitted_flow_whose_metadata_went_away_keeps_the_bitrate_it_was_admitted_with()
    {
        var input = Input(Mbps(10), new DemandedFlow(A, 1)) with { Admitted = Admitted((A, 8)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.True(decision.IsEmpty, "a DORMS outage must not cut or block an admitted flow");
        Assert.Equal(Mbps(8), decision.Used);
    }

    // Rule 2: offload.

    [Fact]
    public void Offload_is_population_minus_one_times_the_bitrate()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Gbps(10), Demand(A, mbps: 2, population: 5), Demand(C, mbps: 2, population: 1)));

        Assert.Equal(8_000_000, decision.Admit.Single(a => a.Flow == A).Offload);
        Assert.Equal(0, decision.Admit.Single(a => a.Flow == C).Offload);
    }

    [Fact]
    public void A_population_below_one_is_caller_misuse()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BandwidthPolicy.Evaluate(Input(Gbps(1), Demand(A, mbps: 1, population: 0))));
    }

    [Fact]
    public void A_flow_demanded_twice_is_caller_misuse()
    {
        Assert.Throws<ArgumentException>(() => BandwidthPolicy.Evaluate(Input(Gbps(1), Demand(A, mbps: 1), Demand(A, mbps: 2))));
    }

    // Rule 3: the rank.

    [Fact]
    public void The_larger_offload_is_admitted_when_only_one_fits_whatever_the_input_order()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Mbps(10), Demand(C, mbps: 4, population: 3), Demand(A, mbps: 10, population: 2)));

        Assert.Equal([A], decision.Admit.Select(a => a.Flow));
        Assert.Equal((C, BlockReason.OverLimit), (Assert.Single(decision.Block).Flow, decision.Block[0].Reason));
        Assert.Equal(Mbps(10), decision.Used);
    }

    [Fact]
    public void On_equal_offload_the_smaller_bitrate_goes_first()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Mbps(6), Demand(A, mbps: 6), Demand(C, mbps: 4)));

        Assert.Equal([C], decision.Admit.Select(a => a.Flow));
        Assert.Equal([A], decision.Block.Select(b => b.Flow));
    }

    [Fact]
    public void On_equal_offload_and_bitrate_the_lower_address_goes_first_in_byte_order_not_text_order()
    {
        // As text "10.0.0.1" sorts before "9.0.0.1"; as addresses 9.0.0.1 is the lower.
        var nine = Flow("9.0.0.1", "232.1.1.1");
        var ten = Flow("10.0.0.1", "232.1.1.1");

        var decision = BandwidthPolicy.Evaluate(Input(Mbps(1), Demand(ten, mbps: 1), Demand(nine, mbps: 1)));

        Assert.Equal([nine], decision.Admit.Select(a => a.Flow));
        Assert.Equal([ten], decision.Block.Select(b => b.Flow));
    }

    [Fact]
    public void On_a_full_tie_an_IPv4_flow_goes_before_an_IPv6_one()
    {
        var v6 = Flow("2001:db8::1", "ff3e::8000:1");
        var v4 = Flow("203.0.113.7", "232.1.1.1");

        var decision = BandwidthPolicy.Evaluate(Input(Mbps(1), Demand(v6, mbps: 1), Demand(v4, mbps: 1)));

        Assert.Equal([v4], decision.Admit.Select(a => a.Flow));
        Assert.Equal([v6], decision.Block.Select(b => b.Flow));
    }

    [Fact]
    public void Admissions_are_listed_in_rank_order()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Gbps(1), Demand(C, mbps: 1), Demand(B, mbps: 1, population: 2), Demand(A, mbps: 2, population: 3)));

        Assert.Equal([A, B, C], decision.Admit.Select(a => a.Flow));
    }

    // Rule 4: flows nobody demands any more.

    [Fact]
    public void An_admitted_flow_left_explicitly_is_released_at_once()
    {
        var input = Input(Gbps(1)) with { Admitted = Admitted((A, 5)), ExplicitlyLeft = [A], Now = T0.AddSeconds(1) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Equal([new FlowRelease(A, ReleaseReason.Left)], Listed(decision.Release));
        Assert.Equal(Bitrate.Zero, decision.Used);
    }

    [Fact]
    public void An_unclaimed_flow_is_kept_and_counted_during_the_grace_and_released_when_it_ends()
    {
        var input = Input(Mbps(10), Demand(C, mbps: 6)) with { Admitted = Admitted((A, 6)) };

        var during = BandwidthPolicy.Evaluate(input with { Now = T0 + input.DemandGrace - TimeSpan.FromSeconds(1) });
        var after = BandwidthPolicy.Evaluate(input with { Now = T0 + input.DemandGrace });

        Assert.Empty(during.Release);
        Assert.Equal(Mbps(6), during.Used);
        Assert.Equal([C], during.Block.Select(b => b.Flow));
        Assert.Equal([new FlowRelease(A, ReleaseReason.Unclaimed)], Listed(after.Release));
        Assert.Equal([C], after.Admit.Select(a => a.Flow));
        Assert.Equal(Mbps(6), after.Used);
    }

    [Fact]
    public void A_flow_still_demanded_is_kept_although_one_origin_left_it()
    {
        var input = Input(Gbps(1), Demand(A, mbps: 5)) with { Admitted = Admitted((A, 5)), ExplicitlyLeft = [A] };

        Assert.True(BandwidthPolicy.Evaluate(input).IsEmpty);
    }

    // Rule 5: admitted flows are kept, unless the limit falls below them.

    [Fact]
    public void Admitted_flows_are_never_dropped_for_new_demand()
    {
        var input = Input(Mbps(8), Demand(A, mbps: 5), Demand(C, mbps: 5, population: 100)) with { Admitted = Admitted((A, 5)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Empty(decision.Release);
        Assert.Equal([C], decision.Block.Select(b => b.Flow));
        Assert.Equal(Mbps(5), decision.Used);
    }

    [Fact]
    public void Lowering_the_limit_drops_the_lowest_ranked_admitted_flows_and_holds_them_down()
    {
        var input = Input(Mbps(9), Demand(A, mbps: 5, population: 10), Demand(B, mbps: 4, population: 5), Demand(C, mbps: 3, population: 2))
            with { Admitted = Admitted((A, 5), (B, 4), (C, 3)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Equal([new FlowRelease(C, ReleaseReason.LimitLowered, T0 + HoldDown)], Listed(decision.Release));
        Assert.Equal(Mbps(9), decision.Used);
    }

    [Fact]
    public void A_smaller_admitted_flow_ranked_below_a_dropped_one_stays_when_it_fits()
    {
        var input = Input(Mbps(7), Demand(A, mbps: 5, population: 10), Demand(B, mbps: 4, population: 5), Demand(C, mbps: 1, population: 2))
            with { Admitted = Admitted((A, 5), (B, 4), (C, 1)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Equal([B], decision.Release.Select(r => r.Flow));
        Assert.Equal(Mbps(6), decision.Used);
    }

    [Fact]
    public void An_admitted_flow_whose_bitrate_grew_past_the_limit_is_dropped()
    {
        var input = Input(Mbps(10), Demand(A, mbps: 12)) with { Admitted = Admitted((A, 8)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Equal([new FlowRelease(A, ReleaseReason.LimitLowered, T0 + HoldDown)], Listed(decision.Release));
        Assert.Equal(Bitrate.Zero, decision.Used);
    }

    [Fact]
    public void A_dropped_flow_comes_back_only_when_its_hold_down_ends()
    {
        var lowered = Input(Mbps(9), Demand(A, mbps: 5, population: 10), Demand(C, mbps: 5))
            with { Admitted = Admitted((A, 5), (C, 5)) };
        var dropped = BandwidthPolicy.Evaluate(lowered);
        Assert.Equal([C], dropped.Release.Select(r => r.Flow));

        var raised = lowered.After(dropped) with { Limit = Gbps(1) };
        var before = BandwidthPolicy.Evaluate(raised with { Now = T0 + HoldDown - TimeSpan.FromSeconds(1) });
        var after = BandwidthPolicy.Evaluate(raised with { Now = T0 + HoldDown });

        Assert.True(before.IsEmpty);
        Assert.Equal([C], after.Admit.Select(a => a.Flow));
    }

    // Rule 6: new candidates.

    [Fact]
    public void A_candidate_that_does_not_fit_is_blocked_and_held_down()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Mbps(5), Demand(A, mbps: 6)));

        var block = Assert.Single(decision.Block);
        Assert.Equal(new FlowBlock(A, T0 + HoldDown, BlockReason.OverLimit, Mbps(6), Mbps(5), null), block);
        Assert.Equal("needs 6Mbps but only 5Mbps of the limit is left", block.Sentence);
    }

    [Fact]
    public void A_smaller_candidate_ranked_later_is_admitted_after_a_larger_one_is_blocked()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Mbps(5), Demand(A, mbps: 6, population: 3), Demand(C, mbps: 2)));

        Assert.Equal([A], decision.Block.Select(b => b.Flow));
        Assert.Equal([C], decision.Admit.Select(a => a.Flow));
    }

    [Fact]
    public void A_held_down_flow_is_not_reconsidered_until_its_hold_down_ends_even_when_the_limit_rises()
    {
        var input = Input(Gbps(1), Demand(A, mbps: 1)) with { HeldDownUntil = ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty.Add(A, T0 + HoldDown) };

        var before = BandwidthPolicy.Evaluate(input with { Now = T0 + HoldDown - TimeSpan.FromTicks(1) });
        var after = BandwidthPolicy.Evaluate(input with { Now = T0 + HoldDown });

        Assert.True(before.IsEmpty);
        Assert.Equal([A], after.Admit.Select(a => a.Flow));
    }

    // Rule 7: CBACC priority among one source's flows.

    [Fact]
    public void When_a_flow_is_blocked_its_lower_priority_siblings_are_blocked_too_even_if_they_fit()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Mbps(5), Demand(A, mbps: 10, priority: 300), Demand(B, mbps: 1, priority: 100), Demand(C, mbps: 1)));

        Assert.Equal([C], decision.Admit.Select(a => a.Flow));
        var sibling = decision.Block.Single(b => b.Flow == B);
        Assert.Equal(BlockReason.SiblingBlocked, sibling.Reason);
        Assert.Equal(A, sibling.Sibling);
        Assert.Equal($"{A}, a flow of the same source with a higher CBACC priority, is blocked", sibling.Sentence);
        Assert.Equal(BlockReason.OverLimit, decision.Block.Single(b => b.Flow == A).Reason);
    }

    [Fact]
    public void Siblings_of_equal_priority_are_decided_on_their_own()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Mbps(5), Demand(A, mbps: 10), Demand(B, mbps: 1)));

        Assert.Equal([B], decision.Admit.Select(a => a.Flow));
        Assert.Equal([A], decision.Block.Select(b => b.Flow));
    }

    [Fact]
    public void A_lower_priority_flow_is_admitted_together_with_its_higher_priority_siblings()
    {
        // B ranks first (larger offload) but needs A, which has the higher priority.
        var both = BandwidthPolicy.Evaluate(Input(Mbps(6), Demand(A, mbps: 4, priority: 300), Demand(B, mbps: 2, population: 10, priority: 100)));
        var one = BandwidthPolicy.Evaluate(Input(Mbps(5), Demand(A, mbps: 4, priority: 300), Demand(B, mbps: 2, population: 10, priority: 100)));

        Assert.Equal([B, A], both.Admit.Select(a => a.Flow));
        Assert.Equal(Mbps(6), both.Used);
        Assert.Equal([A], one.Admit.Select(a => a.Flow));
        Assert.Equal(new FlowBlock(B, T0 + HoldDown, BlockReason.OverLimit, Mbps(6), Mbps(5), null), Assert.Single(one.Block));
    }

    [Fact]
    public void A_held_down_flow_holds_back_its_lower_priority_siblings()
    {
        var input = Input(Gbps(1), Demand(A, mbps: 1, priority: 300), Demand(B, mbps: 1))
            with { HeldDownUntil = ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty.Add(A, T0.AddSeconds(10)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Empty(decision.Admit);
        Assert.Equal(new FlowBlock(B, T0 + HoldDown, BlockReason.SiblingBlocked, default, default, A), Assert.Single(decision.Block));
    }

    [Fact]
    public void A_flow_without_metadata_holds_back_its_lower_priority_siblings()
    {
        var decision = BandwidthPolicy.Evaluate(Input(Gbps(1), new DemandedFlow(A, 1), Demand(B, mbps: 1, priority: 100)));

        Assert.Empty(decision.Admit);
        Assert.Equal(BlockReason.NoMetadata, decision.Block.Single(b => b.Flow == A).Reason);
        Assert.Equal(BlockReason.SiblingBlocked, decision.Block.Single(b => b.Flow == B).Reason);
    }

    [Fact]
    public void Dropping_an_admitted_flow_drops_its_lower_priority_siblings_even_if_they_fit()
    {
        var input = Input(Mbps(5), Demand(A, mbps: 6, population: 5, priority: 300), Demand(B, mbps: 1, priority: 100), Demand(C, mbps: 3, population: 3))
            with { Admitted = Admitted((A, 6), (B, 1), (C, 3)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Equal(
            [new FlowRelease(A, ReleaseReason.LimitLowered, T0 + HoldDown), new FlowRelease(B, ReleaseReason.SiblingBlocked, T0 + HoldDown)],
            Listed(decision.Release));
        Assert.Equal(Mbps(3), decision.Used);
    }

    [Fact]
    public void Blocking_a_new_flow_never_drops_an_admitted_lower_priority_sibling()
    {
        var input = Input(Mbps(5), Demand(A, mbps: 10, priority: 300), Demand(B, mbps: 1, priority: 100)) with { Admitted = Admitted((B, 1)) };

        var decision = BandwidthPolicy.Evaluate(input);

        Assert.Empty(decision.Release);
        Assert.Equal([A], decision.Block.Select(b => b.Flow));
        Assert.Equal(Mbps(1), decision.Used);
    }

    // Carrying a decision out.

    [Fact]
    public void After_applies_admissions_releases_and_hold_downs_and_forgets_expired_hold_downs()
    {
        var old = Flow("192.0.2.1", "232.5.5.5");
        var input = Input(Mbps(5), Demand(A, mbps: 4, population: 2), Demand(C, mbps: 4)) with
        {
            Admitted = Admitted((B, 1)),
            ExplicitlyLeft = [B],
            HeldDownUntil = ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty.Add(old, T0),
        };

        var decision = BandwidthPolicy.Evaluate(input);
        var next = input.After(decision);

        Assert.Equal([A], next.Admitted.Keys);
        Assert.Equal(new AdmittedFlow(Mbps(4), 4_000_000, T0), next.Admitted[A]);
        Assert.Equal([C], next.HeldDownUntil.Keys);
        Assert.Equal(T0 + HoldDown, next.HeldDownUntil[C]);
        Assert.Empty(next.ExplicitlyLeft);
    }

    /// <summary>xUnit compares an ImmutableArray through IStructuralEquatable, which is false against anything
    /// but an array; a list is compared item by item.</summary>
    private static List<T> Listed<T>(ImmutableArray<T> items) => [.. items];

    private static SourceGroup Flow(string source, string group) => new(IPAddress.Parse(source), IPAddress.Parse(group));

    private static Bitrate Mbps(long n) => new(n * 1_000_000);

    private static Bitrate Gbps(long n) => new(n * 1_000_000_000);

    private static DemandedFlow Demand(SourceGroup flow, long mbps, int population = 1, long priority = FlowMetadata.DefaultPriority) =>
        new(flow, population, new FlowMetadata(Mbps(mbps), priority));

    private static PolicyInput Input(Bitrate limit, params DemandedFlow[] demanded) =>
        new() { Limit = limit, Demanded = [.. demanded], Now = T0 };

    private static AdmittedSet Admitted(params (SourceGroup Flow, long Mbps)[] flows) =>
        AdmittedSet.From(flows.Select(f => KeyValuePair.Create(f.Flow, new AdmittedFlow(Mbps(f.Mbps), 0, T0))));
}
