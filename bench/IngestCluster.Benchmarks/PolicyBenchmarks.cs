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
/// <item><c>SteadyAfterAChange</c>: <c>Steady</c> on an admitted set one admission newer (one flow's bitrate
/// changed), the way the first evaluation after a decision runs: the change is folded into a new flat table
/// first (<see cref="AdmittedSet"/>), then kept for the evaluations after it.</item>
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
    private SourceGroup _changed;
    private AdmittedFlow _changedTo;

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
        _changed = all[0].Flow;
        _changedTo = admittedAll[_changed] with { Bitrate = new Bitrate(admittedAll[_changed].Bitrate.BitsPerSecond + 1) };
    }

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
    public PolicyDecision SteadyAfterAChange() =>
        BandwidthPolicy.Evaluate(_steady with { Admitted = _steady.Admitted.SetItem(_changed, _changedTo) });

    [Benchmark]
    public PolicyDecision Steady() => BandwidthPolicy.Evaluate(_steady);

    [Benchmark]
    public PolicyDecision NewUnderLimit() => BandwidthPolicy.Evaluate(_newUnderLimit);

    [Benchmark]
    public PolicyDecision LimitLowered() => BandwidthPolicy.Evaluate(_limitLowered);
}
