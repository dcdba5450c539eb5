using System.Collections.Immutable;
using System.Net;
using CsCheck;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tests.Budget;

/// <summary>The shortcuts the budget takes on its join path give what the general computation gives.</summary>
public class BudgetStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static SourceGroup Flow(int source, int group) =>
        new(IPAddress.Parse($"10.9.0.{source}"), IPAddress.Parse($"232.9.{group / 250}.{group % 250}"));

    /// <summary>Origins as lists of (source, group, population) with sources 1..4 and groups 0..30.</summary>
    private static readonly Gen<(int Source, int Group, int Population)[][]> Origins =
        Gen.Select(Gen.Int[1, 4], Gen.Int[0, 30], Gen.Int[1, 5]).Array[0, 12].Array[0, 3];

    private static BudgetState WithDemand((int Source, int Group, int Population)[][] origins)
    {
        var state = BudgetState.Empty;
        for (int o = 0; o < origins.Length; o++)
        {
            var flows = ImmutableDictionary.CreateBuilder<SourceGroup, int>();
            foreach (var (source, group, population) in origins[o])
            {
                flows[Flow(source, group)] = population;
            }
            state = state.WithSnapshot($"origin-{o}", flows.ToImmutable(), Now);
        }
        return state;
    }

    [Fact]
    public void Demanded_is_the_sum_of_every_origins_populations_whatever_the_number_of_origins()
    {
        Origins.Sample(origins =>
        {
            var expected = new Dictionary<SourceGroup, int>();
            foreach (var origin in origins)
            {
                // The last population an origin gives a flow is the one it holds.
                foreach (var (flow, population) in origin.GroupBy(f => Flow(f.Source, f.Group)).Select(g => (g.Key, g.Last().Population)))
                {
                    expected[flow] = expected.GetValueOrDefault(flow) + population;
                }
            }
            var demanded = WithDemand(origins).Demanded();
            Assert.Equal(expected.Select(kv => $"{kv.Key}={kv.Value}").Order().ToList(), demanded.Select(kv => $"{kv.Key}={kv.Value}").Order().ToList());
        });
    }

    [Fact]
    public void Desired_groups_of_some_sources_are_those_of_the_full_grouping_and_empty_for_a_source_with_none()
    {
        Gen.Select(Gen.Select(Gen.Int[1, 4], Gen.Int[0, 30]).Array[0, 40], Gen.Int[1, 6].Array[0, 4]).Sample((admitted, asked) =>
        {
            var state = BudgetState.Empty;
            foreach (var (source, group) in admitted)
            {
                state = state.Apply(new BudgetEvents.FlowAdmitted(Flow(source, group), Now));
            }
            var sources = asked.Select(s => IPAddress.Parse($"10.9.0.{s}")).ToHashSet();
            var full = state.DesiredGroupsBySource();

            var some = state.DesiredGroupsOf(sources);

            Assert.Equal(sources.Select(s => s.ToString()).Order().ToList(), some.Keys.Select(s => s.ToString()).Order().ToList());
            foreach (var (source, groups) in some)
            {
                Assert.Equal((full.TryGetValue(source, out var all) ? all : []).Select(g => g.ToString()).ToList(), groups.Select(g => g.ToString()).ToList());
            }
        });
    }
}
