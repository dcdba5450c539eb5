using System.Collections.Immutable;
using System.Net;
using BenchmarkDotNet.Attributes;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;

namespace IngestCluster.Benchmarks;

/// <summary>
/// <see cref="BandwidthPolicy.Evaluate"/> with 10,000 demanded flows (40 sources of 250 groups, 1 to 8 Mbit/s,
/// populations 1 to 50, two CBACC priorities per source), the way the budget calls it on every decision:
/// <list type="bullet">
/// <item><c>Steady</c>: every flow demanded and admitted, all fit (a reconcile tick, or a burst's decision once
/// the flows are in): the full join of demand, admitted set and hold-downs, nothing to decide.</item>
/// <item><c>NewUnderLimit</c>: 10,000 new candidates and a limit that fits about half: the rank sort and the
/// greedy pass with the sibling rule.</item>
/// <item><c>LimitLowered</c>: all 10,000 admitted and the limit halved: pass 1 ranks and drops.</item>
/// <item><c>SteadyAfterAnAdmission</c>: <c>Steady</c> on an admitted set of 9,999 flows given the 10,000th, the
/// way the first evaluation after a decision runs: with <see cref="AdmittedSet"/> the admission is applied to a
/// copy of the flat table first (which is then kept for the evaluations after it). Each call starts from the same
/// set, so the table's arrays are never its own to append to: the worst case.</item>
/// <item><c>SteadyAfterAReadmission</c>: <c>Steady</c> after one flow was released and admitted again, each call
/// going on from the last one's set, as the budget's state goes on from decision to decision: with
/// <see cref="AdmittedSet"/> the changes are applied in place (a bit in a bitmap).</item>
/// <item><c>ApplyAdmissions</c>: the budget's state given 10,000 admissions one event at a time, as a burst's
/// decision or a replay of the journal applies them; <c>RenewClaims</c>: one origin's snapshot of all 10,000
/// flows renewing their claims.</item>
/// <item><c>EnumerateAdmitted</c>: only the walk of the admitted set's flat table (each flow's rates, no claim
/// times), for comparison.</item>
/// </list>
/// </summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private const int Flows = 10_000;
    private PolicyInput _steady = null!;
    private PolicyInput _newUnderLimit = null!;
    private PolicyInput _limitLowered = null!;
    private SourceGroup _last;
    private AdmittedFlow _lastAdmitted;
    private PolicyInput _butLast = null!;
    private PolicyInput _line = null!;
    private BudgetEvents.FlowAdmitted[] _admissions = [];
    private BudgetState _state = BudgetState.Empty;
    private ImmutableDictionary<SourceGroup, int> _originFlows = ImmutableDictionary<SourceGroup, int>.Empty;
    private DateTimeOffset _now;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(12);
        var now = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        var demanded = ImmutableArray.CreateBuilder<DemandedFlow>(Flows);
        var admitted = ImmutableDictionary.CreateBuilder<SourceGroup, AdmittedFlow>();
        long total = 0;
        for (int i = 0; i < Flows; i++)
        {
            var flow = new SourceGroup(IPAddress.Parse($"10.201.0.{i / 250 + 1}"), IPAddress.Parse($"232.5.{i % 250}.{i / 250 + 1}"));
            long bits = random.Next(1, 9) * 1_000_000L;
            int population = random.Next(1, 51);
            long priority = i % 2 == 0 ? 256 : 128;
            demanded.Add(new DemandedFlow(flow, population, new FlowMetadata(new Bitrate(bits), priority)));
            admitted[flow] = new AdmittedFlow(new Bitrate(bits), (population - 1) * bits, now);
            total += bits;
        }
        var all = demanded.MoveToImmutable();
        var admittedAll = AdmittedSet.From(admitted);
        _steady = new PolicyInput { Limit = new Bitrate(total), Demanded = all, Admitted = admittedAll, Now = now };
        _newUnderLimit = new PolicyInput { Limit = new Bitrate(total / 2), Demanded = all, Now = now };
        _limitLowered = _steady with { Limit = new Bitrate(total / 2) };
        _last = all[^1].Flow;
        _lastAdmitted = admittedAll[_last];
        _line = _steady;
        _butLast = _steady with { Admitted = AdmittedSet.From(admitted.ToImmutable().Remove(_last)) };
        _admissions = [.. all.Select(d => new BudgetEvents.FlowAdmitted(d.Flow, now, d.Metadata!.Value.Bitrate.BitsPerSecond, OffloadOf(d)))];
        _state = ApplyAdmissions();
        _originFlows = all.ToImmutableDictionary(d => d.Flow, d => d.Population);
        _now = now;
    }

    private static long OffloadOf(DemandedFlow d) => (d.Population - 1) * d.Metadata!.Value.Bitrate.BitsPerSecond;

    [Benchmark]
    public BudgetState ApplyAdmissions()
    {
        var state = BudgetState.Empty;
        foreach (var admission in _admissions)
        {
            state = state.Apply(admission);
        }
        return state;
    }

    [Benchmark]
    public BudgetState RenewClaims() => _state.WithSnapshot("origin", _originFlows, _now.AddSeconds(1));

    [Benchmark]
    public long EnumerateAdmitted()
    {
        long sum = 0;
        foreach (var (_, _, offload) in _steady.Admitted.Rates)
        {
            sum += offload;
        }
        return sum;
    }

    [Benchmark]
    public PolicyDecision SteadyAfterAnAdmission() =>
        BandwidthPolicy.Evaluate(_butLast with { Admitted = _butLast.Admitted.SetItem(_last, _lastAdmitted) });

    [Benchmark]
    public PolicyDecision SteadyAfterAReadmission()
    {
        _line = _line with { Admitted = _line.Admitted.Remove(_last).SetItem(_last, _lastAdmitted) };
        return BandwidthPolicy.Evaluate(_line);
    }

    [Benchmark]
    public PolicyDecision Steady() => BandwidthPolicy.Evaluate(_steady);

    [Benchmark]
    public PolicyDecision NewUnderLimit() => BandwidthPolicy.Evaluate(_newUnderLimit);

    [Benchmark]
    public PolicyDecision LimitLowered() => BandwidthPolicy.Evaluate(_limitLowered);
}
