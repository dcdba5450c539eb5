using IngestCluster.Node.Budget.Metadata;

namespace IngestCluster.Node.Tests.Budget.Metadata;

public sealed class SrvOrderingTests
{
    private const int Seed = 20261201;

    private static SrvTarget Target(ushort priority, ushort weight, string host) => new(priority, weight, host, 443);

    [Fact]
    public void Every_lower_priority_comes_before_any_higher_one_whatever_the_weights()
    {
        var targets = new[]
        {
            Target(20, 65535, "c"), Target(10, 1, "a"), Target(30, 0, "e"), Target(10, 100, "b"), Target(20, 0, "d"),
        };
        var random = new Random(Seed);
        for (int run = 0; run < 200; run++)
        {
            var ordered = SrvOrdering.Order(targets, random);
            Assert.Equal(targets.Length, ordered.Length);
            Assert.Equal([10, 10, 20, 20, 30], ordered.Select(t => (int)t.Priority));
            Assert.Equal(targets.OrderBy(t => t.Host), ordered.OrderBy(t => t.Host));
        }
    }

    [Fact]
    public void Within_a_priority_the_first_choice_follows_the_weights()
    {
        var targets = new[] { Target(0, 60, "sixty"), Target(0, 30, "thirty"), Target(0, 10, "ten") };
        var random = new Random(Seed);
        const int Runs = 20_000;
        var first = new Dictionary<string, int> { ["sixty"] = 0, ["thirty"] = 0, ["ten"] = 0 };
        for (int run = 0; run < Runs; run++)
        {
            first[SrvOrdering.Order(targets, random)[0].Host]++;
        }
        // The pick is uniform over the 101 values 0..100; each target covers its weight, and the value 0 goes to
        // whichever the shuffle put first: shares of 60.33, 30.33 and 10.33 in 101 (0.597, 0.300, 0.102). The ranges
        // are about 6 standard deviations wide on each side at 20 000 runs.
        Assert.InRange(first["sixty"] / (double)Runs, 0.577, 0.617);
        Assert.InRange(first["thirty"] / (double)Runs, 0.28, 0.32);
        Assert.InRange(first["ten"] / (double)Runs, 0.08, 0.12);
    }

    [Fact]
    public void The_second_choice_is_weighted_among_the_targets_left()
    {
        var targets = new[] { Target(0, 80, "big"), Target(0, 15, "mid"), Target(0, 5, "small") };
        var random = new Random(Seed);
        int midAfterBig = 0, bigFirst = 0;
        for (int run = 0; run < 20_000; run++)
        {
            var ordered = SrvOrdering.Order(targets, random);
            if (ordered[0].Host == "big")
            {
                bigFirst++;
                if (ordered[1].Host == "mid")
                {
                    midAfterBig++;
                }
            }
        }
        // With "big" gone, "mid" covers 15 of the 21 values 0..20, and the 0 half the time: 15.5 / 21 = 0.738.
        Assert.InRange(midAfterBig / (double)bigFirst, 0.718, 0.758);
    }

    [Fact]
    public void A_zero_weight_target_is_chosen_rarely_but_still_chosen()
    {
        // RFC 2782: weight 0 goes first in the running sum, so it is picked only when the random number is 0: 1 in 11.
        var targets = new[] { Target(0, 10, "weighted"), Target(0, 0, "zero") };
        var random = new Random(Seed);
        const int Runs = 22_000;
        int zeroFirst = Enumerable.Range(0, Runs).Count(_ => SrvOrdering.Order(targets, random)[0].Host == "zero");
        Assert.InRange(zeroFirst / (double)Runs, 0.075, 0.107);
    }

    [Fact]
    public void When_every_weight_is_zero_each_target_is_a_fair_first_choice()
    {
        var targets = new[] { Target(5, 0, "a"), Target(5, 0, "b"), Target(5, 0, "c") };
        var random = new Random(Seed);
        const int Runs = 9_000;
        var first = Enumerable.Range(0, Runs).Select(_ => SrvOrdering.Order(targets, random)[0].Host).GroupBy(h => h).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, first.Count);
        Assert.All(first.Values, count => Assert.InRange(count / (double)Runs, 0.30, 0.37));
    }

    [Fact]
    public void A_single_target_and_no_targets_are_ordered_trivially()
    {
        var only = Target(1, 0, "only");
        Assert.Same(only, Assert.Single(SrvOrdering.Order([only], new Random(Seed))));
        Assert.Empty(SrvOrdering.Order([], new Random(Seed)));
    }
}
