using System.Collections.Immutable;
using System.Net;
using CsCheck;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tests.Budget;

/// <summary><see cref="AdmittedSet"/> against an <see cref="ImmutableDictionary{TKey, TValue}"/> doing the same
/// changes: the same contents after every change, in every version kept, across the folds of its table.</summary>
public class AdmittedSetTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    /// <summary>IPv4 flows, IPv6 ones, and IPv4-mapped IPv6 ones that must not be taken for their IPv4 twins.</summary>
    private static readonly SourceGroup[] Universe =
    [
        .. Enumerable.Range(0, 150).Select(i => new SourceGroup(IPAddress.Parse($"10.1.0.{i % 5}"), IPAddress.Parse($"232.1.{i / 250}.{i % 250}"))),
        .. Enumerable.Range(0, 20).Select(i => new SourceGroup(IPAddress.Parse($"2001:db8::{i % 3}"), IPAddress.Parse($"ff3e::{i:x}"))),
        .. Enumerable.Range(0, 10).Select(i => new SourceGroup(IPAddress.Parse($"10.1.0.{i % 5}").MapToIPv6(), IPAddress.Parse($"232.1.0.{i}").MapToIPv6())),
    ];

    private abstract record Op;

    private sealed record Set(int Flow, long Mbps, int Seconds) : Op;

    private sealed record Remove(int Flow) : Op;

    private sealed record Claim(int[] Flows, int Seconds) : Op;

    private sealed record ClaimAll(int Seconds) : Op;

    /// <summary>Go on from an earlier version (tables share their arrays: a version must not see its siblings').</summary>
    private sealed record Fork(int Back) : Op;

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (6, Gen.Select(Gen.Int[0, Universe.Length - 1], Gen.OneOf(1L, 2L, 8L), Gen.Int[0, 100], (f, m, s) => (Op)new Set(f, m, s))),
        (3, Gen.Int[0, Universe.Length - 1].Select(f => (Op)new Remove(f))),
        (1, Gen.Select(Gen.Int[0, Universe.Length - 1].Array[0, 20], Gen.Int[0, 100], (f, s) => (Op)new Claim(f, s))),
        (1, Gen.Int[0, 100].Select(s => (Op)new ClaimAll(s))),
        (1, Gen.Int[1, 40].Select(b => (Op)new Fork(b))));

    private static (AdmittedSet, ImmutableDictionary<SourceGroup, AdmittedFlow>) Step(AdmittedSet set, ImmutableDictionary<SourceGroup, AdmittedFlow> model, Op op)
    {
        switch (op)
        {
            case Set s:
                var admitted = new AdmittedFlow(new Bitrate(s.Mbps * 1_000_000), s.Mbps * 3, T0.AddSeconds(s.Seconds));
                return (set.SetItem(Universe[s.Flow], admitted), model.SetItem(Universe[s.Flow], admitted));
            case Remove r:
                return (set.Remove(Universe[r.Flow]), model.Remove(Universe[r.Flow]));
            case Claim c:
                var flows = c.Flows.Select(f => Universe[f]).ToList();
                foreach (var flow in flows.Where(model.ContainsKey))
                {
                    model = model.SetItem(flow, model[flow] with { LastClaimed = T0.AddSeconds(c.Seconds) });
                }
                return (set.Claimed(flows, T0.AddSeconds(c.Seconds)), model);
            case ClaimAll all:
                return (set.ClaimedAll(T0.AddSeconds(all.Seconds)), model.ToImmutableDictionary(kv => kv.Key, kv => kv.Value with { LastClaimed = T0.AddSeconds(all.Seconds) }));
            default:
                throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private static void AssertSame(ImmutableDictionary<SourceGroup, AdmittedFlow> model, AdmittedSet set)
    {
        Assert.Equal(model.Count, set.Count);
        Assert.Equal(model.IsEmpty, set.IsEmpty);
        foreach (var flow in Universe)
        {
            Assert.Equal(model.ContainsKey(flow), set.ContainsKey(flow));
            Assert.Equal(model.TryGetValue(flow, out var expected), set.TryGetValue(flow, out var actual));
            Assert.Equal(expected, actual);
        }
        Assert.Equal(Listed(model), Listed(set));
        Assert.Equal(Listed(model.Select(kv => (kv.Key, kv.Value.Bitrate, kv.Value.Offload))), Listed(set.Rates));
        Assert.Equal(set.Count, set.Keys.Distinct().Count());
    }

    private static List<string> Listed<T>(IEnumerable<T> items) => [.. items.Select(i => i!.ToString()!).Order(StringComparer.Ordinal)];

    [Fact]
    public void Every_version_holds_what_a_dictionary_with_the_same_changes_holds()
    {
        Gen.Select(GenOp.Array[1, 400], Gen.Bool).Sample((ops, fromDictionary) =>
        {
            var model = ImmutableDictionary<SourceGroup, AdmittedFlow>.Empty;
            var set = AdmittedSet.Empty;
            var versions = new List<(AdmittedSet, ImmutableDictionary<SourceGroup, AdmittedFlow>)>();
            foreach (var op in ops)
            {
                if (op is Fork fork)
                {
                    (set, model) = versions.Count == 0 ? (set, model) : versions[Math.Max(0, versions.Count - fork.Back)];
                    continue;
                }
                (set, model) = Step(set, model, op);
                if (fromDictionary && versions.Count % 50 == 0)
                {
                    // As the budget recovers from a snapshot, and as tests build their inputs.
                    set = AdmittedSet.From(model);
                }
                if (versions.Count % 7 == 0)
                {
                    // The policy's read of the table folds the changes: later changes start from the folded table.
                    Assert.Equal(set.Count, set.Table.Count);
                }
                versions.Add((set, model));
            }
            AssertSame(model, set);
            foreach (var (version, expected) in versions.Where((_, i) => i % 13 == 0))
            {
                AssertSame(expected, version);
            }
        }, iter: 300);
    }

    [Fact]
    public void The_order_is_the_order_of_admission_not_a_hash_order()
    {
        var flows = Universe.Reverse().ToArray();
        var set = AdmittedSet.Empty;
        foreach (var flow in flows)
        {
            set = set.SetItem(flow, new AdmittedFlow(new Bitrate(1), 0, T0));
        }
        Assert.Equal(flows, set.Keys);
        Assert.Equal(flows, AdmittedSet.From(set).Keys);
        // A re-admission with other values keeps the flow's place; a removal takes it out.
        var changed = set.SetItem(flows[3], new AdmittedFlow(new Bitrate(2), 0, T0)).Remove(flows[5]);
        Assert.Equal(flows.Where(f => f != flows[5]), changed.Keys);
        Assert.Equal(flows, set.Keys);
    }

    [Fact]
    public void Renewing_claims_shares_the_table()
    {
        var set = AdmittedSet.From(Universe.Select(f => KeyValuePair.Create(f, new AdmittedFlow(new Bitrate(1), 0, T0))));
        var renewed = set.Claimed(Universe.Take(10), T0.AddSeconds(5));
        Assert.Same(set.Table, renewed.Table);
        Assert.Same(set, set.Claimed(Universe.Take(10), T0));
        Assert.Equal(T0.AddSeconds(5), renewed[Universe[0]].LastClaimed);
        Assert.Equal(T0, set[Universe[0]].LastClaimed);
    }

    [Fact]
    public void A_snapshot_gives_back_the_admitted_flows_with_their_claims()
    {
        var state = BudgetState.Empty;
        for (int i = 0; i < Universe.Length; i++)
        {
            state = state.Apply(new BudgetEvents.FlowAdmitted(Universe[i], T0.AddSeconds(i), i * 1000, i));
        }
        state = state.Apply(new BudgetEvents.FlowReleased(Universe[7], T0, ReleaseReason.Left));
        state = state.WithSnapshot("o", Universe.Take(20).ToImmutableDictionary(f => f, _ => 1), T0.AddHours(1));

        var back = BudgetState.From(state.ToSnapshot());

        Assert.Equal(state.Admitted.ToList(), back.Admitted.ToList());
        Assert.Equal(Universe.Length - 1, back.Admitted.Count);
        Assert.Equal(T0.AddHours(1), back.Admitted[Universe[0]].LastClaimed);
        Assert.Equal(T0.AddSeconds(30), back.Admitted[Universe[30]].LastClaimed);
    }
}
