using System.Net;
using BenchmarkDotNet.Attributes;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Benchmarks;

/// <summary>
/// Parsing PIM Join/Prunes: FRR 8.4's own one-(S,G) Join (34 bytes, frame 6 of
/// tests/IngestCluster.Protocols.Tests/Vectors/pim/frr-8.4-hello-join-prune.pcap: upstream neighbour 10.92.0.2,
/// holdtime 210, (198.51.100.12, 232.1.1.1)), and a 20-group Join/Prune with 2 joined and 1 pruned source per group.
/// PIM is control plane (a Join a minute per router), so this is a sanity check, not a data-plane target.
/// </summary>
[MemoryDiagnoser]
public class PimBenchmarks
{
    private static readonly byte[] FrrJoin = Convert.FromHexString("2300b74a01000a5c0002000100d201000020e80101010001000001000420c633640c");

    private byte[] _twentyGroups = [];

    [GlobalSetup]
    public void Setup()
    {
        if (!PimJoinPrune.TryRead(FrrJoin, out _, out var error))
        {
            throw new InvalidOperationException($"the embedded FRR Join does not parse: {error}");
        }
        var groups = Enumerable.Range(1, 20).Select(g => new PimJoinPruneGroup(
            new PimEncodedGroup(IPAddress.Parse($"232.1.1.{g}"), 32),
            [PimEncodedSource.Ssm(IPAddress.Parse($"10.0.{g}.1")), PimEncodedSource.Ssm(IPAddress.Parse($"10.0.{g}.2"))],
            [PimEncodedSource.Ssm(IPAddress.Parse($"10.0.{g}.3"))])).ToList();
        var message = new PimJoinPrune(IPAddress.Parse("10.92.0.2"), 210, groups);
        _twentyGroups = new byte[message.Length];
        message.Write(_twentyGroups);
    }

    [Benchmark(Baseline = true)]
    public int ParseFrrJoin() => PimJoinPrune.TryRead(FrrJoin, out var message, out _) ? message.Groups.Count : -1;

    [Benchmark]
    public int ParseTwentyGroupJoinPrune() => PimJoinPrune.TryRead(_twentyGroups, out var message, out _) ? message.Groups.Count : -1;
}
