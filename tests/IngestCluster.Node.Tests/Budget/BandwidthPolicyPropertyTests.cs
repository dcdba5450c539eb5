using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using CsCheck;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;
using Xunit.Abstractions;

namespace IngestCluster.Node.Tests.Budget;

/// <summary>
/// Properties of <see cref="BandwidthPolicy"/> over random inputs and random sequences of steps. CsCheck prints the
/// seed of a failing case (and shrinks it); set it as <c>seed:</c> in the failing test to replay it.
/// </summary>
public class BandwidthPolicyPropertyTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Eight flows of three sources (one IPv6), so that siblings, ties and both address families occur,
    /// and the brute force over 2^8 subsets stays cheap.</summary>
    private static readonly SourceGroup[] Universe =
    [
        Flow("198.51.100.12", "232.1.1.1"),
        Flow("198.51.100.12", "232.1.1.2"),
        Flow("198.51.100.12", "232.1.1.3"),
        Flow("9.1.2.3", "232.7.7.7"),
        Flow("9.1.2.3", "232.7.7.8"),
        Flow("9.1.2.3", "232.7.7.9"),
        Flow("2001:db8::7", "ff3e::8000:1"),
        Flow("2001:db8::7", "ff3e::8000:2"),
    ];

    private static readonly Gen<FlowMetadata?> GenMetadata = Gen.Frequency(
        (1, Gen.Const(default(FlowMetadata?))),
        (5, Gen.Select(Gen.OneOf(1L, 2L, 3L, 5L, 8L), Gen.OneOf(100L, 256L, 300L), (mbps, priority) => (FlowMetadata?)new FlowMetadata(Mbps(mbps), priority))));

    private static readonly Gen<Bitrate?> GenDefault = Gen.Frequency(
        (1, Gen.Const(default(Bitrate?))),
        (1, Gen.Int[1, 5].Select(mbps => (Bitrate?)Mbps(mbps))));

    /// <summary>What one universe flow is in a random input.</summary>
    private sealed record FlowCase(
        bool Demanded, int Population, FlowMetadata? Metadata,
        bool Admitted, long AdmittedMbps, int AdmittedPopulation, int ClaimedSecondsAgo, bool Left,
        int? HeldForSeconds);

    private static readonly Gen<FlowCase> GenFlowCase =
        Gen.Select(
            Gen.Select(Gen.Bool, Gen.Int[1, 5], GenMetadata),
            Gen.Select(Gen.Bool, Gen.Int[1, 8], Gen.Int[1, 4], Gen.Int[0, 300], Gen.Bool),
            Gen.Frequency((2, Gen.Const(default(int?))), (1, Gen.Int[-60, 150].Select(s => (int?)s))),
            (demand, admitted, held) => new FlowCase(
                demand.Item1, demand.Item2, demand.Item3,
                admitted.Item1, admitted.Item2, admitted.Item3, admitted.Item4, admitted.Item5,
                held));

    private static readonly Gen<PolicyInput> GenInput =
        Gen.Select(GenFlowCase.Array[Universe.Length], Gen.Int[0, 25], GenDefault, (cases, limitMbps, defaultBitrate) =>
        {
            var demanded = ImmutableArray.CreateBuilder<DemandedFlow>();
            var admitted = ImmutableDictionary.CreateBuilder<SourceGroup, AdmittedFlow>();
            var heldDown = ImmutableDictionary.CreateBuilder<SourceGroup, DateTimeOffset>();
            var left = ImmutableHashSet.CreateBuilder<SourceGroup>();
            for (int i = 0; i < Universe.Length; i++)
            {
                var c = cases[i];
                var flow = Universe[i];
                if (c.Demanded)
                {
                    demanded.Add(new DemandedFlow(flow, c.Population, c.Metadata));
                }
                if (c.Admitted)
                {
                    admitted[flow] = new AdmittedFlow(Mbps(c.AdmittedMbps), (c.AdmittedPopulation - 1) * c.AdmittedMbps * 1_000_000, T0.AddSeconds(-c.ClaimedSecondsAgo));
                    if (c.Left)
                    {
                        left.Add(flow);
                    }
                }
                if (c.HeldForSeconds is { } seconds)
                {
                    heldDown[flow] = T0.AddSeconds(seconds);
                }
            }
            return new PolicyInput
            {
                Limit = Mbps(limitMbps),
                DefaultBitrate = defaultBitrate,
                Demanded = demanded.ToImmutable(),
                Admitted = AdmittedSet.From(admitted),
                HeldDownUntil = heldDown.ToImmutable(),
                ExplicitlyLeft = left.ToImmutable(),
                Now = T0,
            };
        });

    // Steps of a run: demand changes, limit changes, time passing.
    private abstract record Step;

    private sealed record Want(int Flow, int Population, FlowMetadata? Metadata) : Step;

    private sealed record Unwant(int Flow, bool Explicitly) : Step;

    private sealed record SetLimit(long Mbps) : Step;

    private sealed record SetDefault(Bitrate? Default) : Step;

    private sealed record Wait(int Seconds) : Step;

    private static readonly Gen<Step> GenStep = Gen.Frequency(
        (5, Gen.Select(Gen.Int[0, Universe.Length - 1], Gen.Int[1, 5], GenMetadata, (f, p, m) => (Step)new Want(f, p, m))),
        (2, Gen.Select(Gen.Int[0, Universe.Length - 1], Gen.Bool, (f, e) => (Step)new Unwant(f, e))),
        (2, Gen.Int[0, 25].Select(mbps => (Step)new SetLimit(mbps))),
        (1, GenDefault.Select(d => (Step)new SetDefault(d))),
        (3, Gen.Int[0, 200].Select(s => (Step)new Wait(s))));

    private static readonly Gen<Step[]> GenRun = GenStep.Array[1, 60];

    [Fact]
    public void The_admitted_total_never_exceeds_the_limit()
    {
        GenInput.Sample(input =>
        {
            var decision = BandwidthPolicy.Evaluate(input);
            Assert.True(decision.Used <= input.Limit, $"used {decision.Used} over the limit {input.Limit}");
            Assert.Equal(Total(input, decision), decision.Used);
        }, iter: 5_000, print: Describe, writeLine: output.WriteLine);
    }

    [Fact]
    public void The_same_input_gives_the_same_output_whatever_the_order_of_its_collections()
    {
        Gen.Select(GenInput, Gen.Int).Sample((input, shuffleSeed) =>
        {
            var first = BandwidthPolicy.Evaluate(input);
            var again = BandwidthPolicy.Evaluate(input);
            var shuffled = BandwidthPolicy.Evaluate(Shuffled(input, new Random(shuffleSeed)));
            AssertSame(first, again);
            AssertSame(first, shuffled);
        }, iter: 2_000, print: t => Describe(t.Item1), writeLine: output.WriteLine);
    }

    [Fact]
    public void An_admitted_flow_is_released_only_when_its_demand_went_away_or_the_limit_fell_below_the_admitted_total()
    {
        GenInput.Sample(input => AssertReleasesAreJustified(input, BandwidthPolicy.Evaluate(input)),
            iter: 5_000, print: Describe, writeLine: output.WriteLine);
    }

    [Fact]
    public void The_policy_picks_what_a_brute_force_over_all_subsets_picks()
    {
        GenInput.Sample(input => AssertAgreesWithOracle(input, BandwidthPolicy.Evaluate(input)),
            iter: 5_000, print: Describe, writeLine: output.WriteLine);
    }

    [Fact]
    public void Over_random_runs_of_steps_every_decision_keeps_the_invariants_and_agrees_with_the_brute_force()
    {
        GenRun.Sample(steps =>
        {
            var state = new PolicyInput { Limit = Mbps(10), Now = T0 };
            var demand = new Dictionary<SourceGroup, DemandedFlow>();
            foreach (var step in steps)
            {
                var left = ImmutableHashSet<SourceGroup>.Empty;
                switch (step)
                {
                    case Want want:
                        demand[Universe[want.Flow]] = new DemandedFlow(Universe[want.Flow], want.Population, want.Metadata);
                        break;
                    case Unwant unwant:
                        if (demand.Remove(Universe[unwant.Flow]) && unwant.Explicitly)
                        {
                            left = [Universe[unwant.Flow]];
                        }
                        break;
                    case SetLimit limit:
                        state = state with { Limit = Mbps(limit.Mbps) };
                        break;
                    case SetDefault setDefault:
                        state = state with { DefaultBitrate = setDefault.Default };
                        break;
                    case Wait wait:
                        state = state with { Now = state.Now.AddSeconds(wait.Seconds) };
                        break;
                }
                var input = state with { Demanded = [.. demand.Values], ExplicitlyLeft = left };
                var decision = BandwidthPolicy.Evaluate(input);

                Assert.True(decision.Used <= input.Limit, $"after {step}: used {decision.Used} over the limit {input.Limit}");
                AssertSame(decision, BandwidthPolicy.Evaluate(input));
                AssertReleasesAreJustified(input, decision);
                AssertAgreesWithOracle(input, decision);
                foreach (var admit in decision.Admit)
                {
                    Assert.False(input.HeldDownUntil.TryGetValue(admit.Flow, out var until) && until > input.Now,
                        $"after {step}: {admit.Flow} admitted while held down until {until:O}");
                }

                state = input.After(decision);
                Assert.Equal(decision.Used, new Bitrate(state.Admitted.Values.Sum(a => a.Bitrate.BitsPerSecond)));
            }
        }, iter: 1_000, print: steps => string.Join("; ", steps.Select(s => s.ToString())), writeLine: output.WriteLine);
    }

    /// <summary>The admitted total once the decision is carried out, worked out from the input by rule 1.</summary>
    private static Bitrate Total(PolicyInput input, PolicyDecision decision)
    {
        var released = decision.Release.Select(r => r.Flow).ToHashSet();
        long total = 0;
        foreach (var (flow, admitted) in input.Admitted)
        {
            if (!released.Contains(flow))
            {
                total += Oracle.BitrateOf(input, flow) ?? admitted.Bitrate.BitsPerSecond;
            }
        }
        return new Bitrate(total + decision.Admit.Sum(a => a.Bitrate.BitsPerSecond));
    }

    private static void AssertReleasesAreJustified(PolicyInput input, PolicyDecision decision)
    {
        var demanded = input.Demanded.Select(d => d.Flow).ToHashSet();
        // What the admitted flows come to once the ones nobody wants are gone: only over the limit may any be dropped.
        long kept = input.Admitted
            .Where(kv => demanded.Contains(kv.Key) || (!input.ExplicitlyLeft.Contains(kv.Key) && input.Now - kv.Value.LastClaimed < input.DemandGrace))
            .Sum(kv => Oracle.BitrateOf(input, kv.Key) ?? kv.Value.Bitrate.BitsPerSecond);
        foreach (var release in decision.Release)
        {
            Assert.True(input.Admitted.TryGetValue(release.Flow, out var admitted), $"{release.Flow} released but never admitted");
            switch (release.Reason)
            {
                case ReleaseReason.Left:
                    Assert.False(demanded.Contains(release.Flow), $"{release.Flow} released as left while demanded");
                    Assert.Contains(release.Flow, input.ExplicitlyLeft);
                    break;
                case ReleaseReason.Unclaimed:
                    Assert.False(demanded.Contains(release.Flow), $"{release.Flow} released as unclaimed while demanded");
                    Assert.True(input.Now - admitted.LastClaimed >= input.DemandGrace, $"{release.Flow} released within its grace");
                    break;
                default:
                    Assert.True(kept > input.Limit.BitsPerSecond,
                        $"{release.Flow} dropped ({release.Reason}) though the admitted {new Bitrate(kept)} fit in {input.Limit}");
                    Assert.Equal(input.Now + input.BlockedHoldDown, release.HeldDownUntil);
                    break;
            }
        }
    }

    private static void AssertAgreesWithOracle(PolicyInput input, PolicyDecision decision)
    {
        var expected = Oracle.Decide(input);
        Assert.Equal(Sorted(expected.Admit), Sorted(decision.Admit.Select(a => (a.Flow, a.Bitrate.BitsPerSecond, a.Offload))));
        Assert.Equal(Sorted(expected.Block), Sorted(decision.Block.Select(b => (b.Flow, b.Reason))));
        Assert.Equal(Sorted(expected.Release), Sorted(decision.Release.Select(r => (r.Flow, r.Reason))));
        Assert.Equal(expected.Used, decision.Used);
        Assert.All(decision.Block, b => Assert.Equal(input.Now + input.BlockedHoldDown, b.Until));
    }

    private static List<string> Sorted<T>(IEnumerable<T> items) => [.. items.Select(i => i!.ToString()!).Order(StringComparer.Ordinal)];

    private static void AssertSame(PolicyDecision expected, PolicyDecision actual)
    {
        // As lists: xUnit compares an ImmutableArray through IStructuralEquatable, which is false against anything but an array.
        Assert.Equal([.. expected.Admit], (List<FlowAdmission>)[.. actual.Admit]);
        Assert.Equal([.. expected.Block], (List<FlowBlock>)[.. actual.Block]);
        Assert.Equal([.. expected.Release], (List<FlowRelease>)[.. actual.Release]);
        Assert.Equal(expected.Used, actual.Used);
    }

    private static PolicyInput Shuffled(PolicyInput input, Random random)
    {
        var demanded = input.Demanded.ToArray();
        random.Shuffle(demanded);
        var admitted = input.Admitted.ToArray();
        random.Shuffle(admitted);
        var heldDown = input.HeldDownUntil.ToArray();
        random.Shuffle(heldDown);
        return input with
        {
            Demanded = [.. demanded],
            Admitted = AdmittedSet.From(admitted),
            HeldDownUntil = ImmutableDictionary.CreateRange(heldDown),
        };
    }

    private static string Describe(PolicyInput input)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"limit {input.Limit}, default {input.DefaultBitrate?.ToString() ?? "none"}, now {input.Now:O}");
        foreach (var d in input.Demanded)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  demanded {d.Flow} population {d.Population} {(d.Metadata is { } m ? $"{m.Bitrate} priority {m.Priority}" : "no metadata")}");
        }
        foreach (var (flow, a) in input.Admitted)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  admitted {flow} {a.Bitrate} offload {a.Offload} claimed {a.LastClaimed:O}{(input.ExplicitlyLeft.Contains(flow) ? " left" : "")}");
        }
        foreach (var (flow, until) in input.HeldDownUntil)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  held down {flow} until {until:O}");
        }
        return text.ToString();
    }

    private static SourceGroup Flow(string source, string group) => new(IPAddress.Parse(source), IPAddress.Parse(group));

    private static Bitrate Mbps(long n) => new(n * 1_000_000);

    /// <summary>
    /// The rules written as plainly as possible, with no greedy in them: each pass looks at every subset and takes
    /// the feasible one that comes first in rank order (the rank-ordered membership read as a binary number, highest
    /// rank the most significant bit, is largest). Feasible means it fits, and for every flow in it its source's
    /// higher-priority flows of the pass are in it and none of its source's flows blocked before the pass has a
    /// higher priority.
    /// </summary>
    private static class Oracle
    {
        public sealed record Expected(
            List<(SourceGroup, long, long)> Admit,
            List<(SourceGroup, BlockReason)> Block,
            List<(SourceGroup, ReleaseReason)> Release,
            Bitrate Used);

        private sealed record Flow(SourceGroup Id, long Bitrate, long Offload, long Priority, bool Siblings);

        public static long? BitrateOf(PolicyInput input, SourceGroup flow)
        {
            var demanded = input.Demanded.Where(d => d.Flow == flow).ToList();
            if (demanded.Count == 0)
            {
                return null;
            }
            return demanded[0].Metadata?.Bitrate.BitsPerSecond ?? input.DefaultBitrate?.BitsPerSecond;
        }

        public static Expected Decide(PolicyInput input)
        {
            var demanded = input.Demanded.ToDictionary(d => d.Flow);
            var release = new List<(SourceGroup, ReleaseReason)>();
            var pass1 = new List<Flow>();
            foreach (var (id, admitted) in input.Admitted)
            {
                if (demanded.TryGetValue(id, out var d))
                {
                    long bitrate = d.Metadata?.Bitrate.BitsPerSecond ?? input.DefaultBitrate?.BitsPerSecond ?? admitted.Bitrate.BitsPerSecond;
                    pass1.Add(new Flow(id, bitrate, (d.Population - 1) * bitrate, d.Metadata?.Priority ?? 256, Siblings: true));
                }
                else if (input.ExplicitlyLeft.Contains(id))
                {
                    release.Add((id, ReleaseReason.Left));
                }
                else if (input.Now - admitted.LastClaimed >= input.DemandGrace)
                {
                    release.Add((id, ReleaseReason.Unclaimed));
                }
                else
                {
                    pass1.Add(new Flow(id, admitted.Bitrate.BitsPerSecond, admitted.Offload, 256, Siblings: false));
                }
            }

            long limit = input.Limit.BitsPerSecond;
            var kept = Choose(pass1, limit, blockedBefore: []);
            var dropped = pass1.Except(kept).ToList();
            foreach (var flow in dropped)
            {
                bool sibling = flow.Siblings && dropped.Any(d => d.Siblings && SameSource(d, flow) && d.Priority > flow.Priority);
                release.Add((flow.Id, sibling ? ReleaseReason.SiblingBlocked : ReleaseReason.LimitLowered));
            }
            long used = kept.Sum(f => f.Bitrate);

            var candidates = new List<Flow>();
            var blockedBefore = dropped.Where(f => f.Siblings).ToList();
            var block = new List<(SourceGroup, BlockReason)>();
            foreach (var d in input.Demanded.Where(d => !input.Admitted.ContainsKey(d.Flow)))
            {
                long? bitrate = d.Metadata?.Bitrate.BitsPerSecond ?? input.DefaultBitrate?.BitsPerSecond;
                var flow = new Flow(d.Flow, bitrate ?? 0, (d.Population - 1) * (bitrate ?? 0), d.Metadata?.Priority ?? 256, Siblings: true);
                if (input.HeldDownUntil.TryGetValue(d.Flow, out var until) && until > input.Now)
                {
                    blockedBefore.Add(flow);
                }
                else if (bitrate is null)
                {
                    blockedBefore.Add(flow);
                    block.Add((d.Flow, BlockReason.NoMetadata));
                }
                else
                {
                    candidates.Add(flow);
                }
            }
            var admit = Choose(candidates, limit - used, blockedBefore);
            var blocked = candidates.Except(admit).ToList();
            foreach (var flow in blocked)
            {
                bool sibling = blockedBefore.Concat(blocked).Any(b => SameSource(b, flow) && b.Priority > flow.Priority);
                block.Add((flow.Id, sibling ? BlockReason.SiblingBlocked : BlockReason.OverLimit));
            }
            used += admit.Sum(f => f.Bitrate);
            return new Expected([.. admit.Select(f => (f.Id, f.Bitrate, f.Offload))], block, release, new Bitrate(used));
        }

        private static List<Flow> Choose(List<Flow> flows, long budget, List<Flow> blockedBefore)
        {
            var ranked = flows
                .OrderByDescending(f => f.Offload)
                .ThenBy(f => f.Bitrate)
                .ThenBy(f => f.Id.Source, AddressOrder.Instance)
                .ThenBy(f => f.Id.Group, AddressOrder.Instance)
                .ToList();
            int n = ranked.Count;
            for (int mask = (1 << n) - 1; mask >= 0; mask--)
            {
                // Bit n-1-i is the flow of rank i: a larger mask is earlier in rank order.
                var chosen = ranked.Where((_, i) => (mask & (1 << (n - 1 - i))) != 0).ToList();
                bool fits = chosen.Sum(f => f.Bitrate) <= budget;
                bool closed = chosen.All(f => !f.Siblings ||
                    (ranked.All(o => !o.Siblings || !SameSource(o, f) || o.Priority <= f.Priority || chosen.Contains(o)) &&
                     blockedBefore.All(b => !SameSource(b, f) || b.Priority <= f.Priority)));
                if (fits && closed)
                {
                    return chosen;
                }
            }
            throw new InvalidOperationException("the empty set is always feasible");
        }

        private static bool SameSource(Flow x, Flow y) => x.Id.Source.Equals(y.Id.Source);

        private sealed class AddressOrder : IComparer<IPAddress>
        {
            public static readonly AddressOrder Instance = new();

            public int Compare(IPAddress? x, IPAddress? y)
            {
                var a = x!.GetAddressBytes();
                var b = y!.GetAddressBytes();
                return a.Length != b.Length ? a.Length.CompareTo(b.Length) : a.AsSpan().SequenceCompareTo(b);
            }
        }
    }
}
