using IngestCluster.Lab.Topology;
using Xunit.Abstractions;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// Failover of a three-node cluster with FRR as the router, measured at the receivers from packet arrival times
/// (the lab receiver's gap lines): a crashed node's sources come back on the survivors; the node holding the routers'
/// neighbour address can die and the flows outlive the router's neighbour holdtime; a SIGTERM hands sources over
/// make-before-break; a partitioned node is downed and stops emitting; and the singleton's node can die in a burst
/// of joins without losing an admitted flow. Each test leaves three healthy members behind.
/// </summary>
[Collection("failover")]
public sealed class FailoverTests(FailoverLab lab, ITestOutputHelper output) : IClassFixture<FailoverLab>
{
    /// <summary>Generous: the targets (median under 5 s, never over 10 s) are reported, not asserted; this only says
    /// the flow came back at all.</summary>
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);

    private void Report(string line)
    {
        lab.Note(line);
        output.WriteLine(line);
    }

    /// <summary>Kills the node hosting source i with SIGKILL and returns each of its flows' outage in ms.</summary>
    private async Task<List<double>> KillHostOf(int source, string label)
    {
        await lab.Settle();
        int? host = null;
        await FailoverLab.WaitUntil(() => (host = lab.HostOf(source)) is not null, TimeSpan.FromSeconds(30), $"a host for source {source}");
        var flowsThere = Enumerable.Range(0, ClusterTopology.Sources).Where(i => lab.HasReceiver(i) && lab.HostOf(i) == host).ToList();
        long killedAt = FailoverLab.NowUnixMs();
        lab.Topology.Node(host!.Value).Signal(9);
        var outages = new List<double>();
        foreach (int i in flowsThere)
        {
            await FailoverLab.WaitUntil(() => lab.GapsSince(i, killedAt).Count > 0 && lab.Receiving(i), Recovery,
                $"{label}: flow {i} back after node {host} was killed");
            var gap = lab.GapsSince(i, killedAt).MaxBy(g => g.GapMs);
            outages.Add(gap.GapMs);
        }
        var survivors = Enumerable.Range(1, 3).Where(n => n != host).ToList();
        long? Step(Func<string, bool> match) => survivors.Select(n => lab.LoggedAfter(n, killedAt, match)).Where(t => t is not null).Min();
        long? unreachable = Step(l => l.Contains("UNREACHABLE", StringComparison.Ordinal));
        long? downed = Step(l => l.Contains("SBR took decision", StringComparison.Ordinal) || l.Contains("is downing", StringComparison.Ordinal));
        long? gone = Step(l => l.Contains("budget.member_gone", StringComparison.Ordinal) || l.Contains("budget.recovered", StringComparison.Ordinal));
        long? resolving = Step(l => l.Contains("-> Resolving", StringComparison.Ordinal));
        long? tunnel = Step(l => l.Contains("tunnel.open", StringComparison.Ordinal));
        long? established = Step(l => l.Contains("-> Established", StringComparison.Ordinal));
        string At(long? t) => t is { } v ? $"+{v - killedAt} ms" : "n/a";
        Report($"{label}: killed node {host} hosting {flowsThere.Count} flow(s); outages {string.Join(", ", outages.Select(FailoverLab.Ms))} ms; " +
            $"unreachable {At(unreachable)}, downed {At(downed)}, budget told {At(gone)}, entity resolving {At(resolving)}, " +
            $"tunnel open {At(tunnel)}, tunnel established {At(established)}");
        await lab.Restart(host.Value);
        await FailoverLab.WaitUntil(() => flowsThere.All(lab.Receiving), Recovery, "every flow receiving after the restart");
        return outages;
    }

    [SkippableFact]
    public async Task A_crashed_node_s_sources_come_back_on_the_survivors()
    {
        RequiresKernel.MulticastRouting();
        var all = new List<double>();
        for (int kill = 0; kill < 5; kill++)
        {
            all.AddRange(await KillHostOf(kill % FailoverLab.InitialFlows, $"kill {kill + 1}"));
        }
        all.Sort();
        double median = all[all.Count / 2];
        Report($"SIGKILL of a source's node, {all.Count} flow outages over 5 kills: median {FailoverLab.Ms(median)} ms, max {FailoverLab.Ms(all[^1])} ms");
        Assert.All(all, o => Assert.True(o < Recovery.TotalMilliseconds, $"an outage of {o} ms"));
    }

    [SkippableFact]
    public async Task Killing_the_holder_of_the_routers_neighbour_address_keeps_the_flows_past_the_neighbour_holdtime()
    {
        RequiresKernel.MulticastRouting();
        await lab.Settle();
        // First, on a settled cluster: every node's flows resource has every flow's packets, also of the flows that
        // other nodes host (their source entities report their node's counters), and they grow.
        var before = lab.FlowCounters(1);
        await FailoverLab.WaitUntil(() => Enumerable.Range(1, 3).All(n =>
        {
            var flows = lab.FlowCounters(n);
            return flows.Count >= FailoverLab.InitialFlows && flows.All(kv =>
                kv.Value.Packets is > 0 && before.TryGetValue(kv.Key, out var b) && kv.Value.Packets > b.Packets);
        }), TimeSpan.FromSeconds(15), "every node's /api/flows counting every flow, wherever it is hosted");
        var hosts = lab.FlowCounters(1).Values.Select(v => v.Node).Distinct().Count();
        Report($"flows resource: every node shows packets for all {lab.FlowCounters(1).Count} flows, hosted on {hosts} node(s)");

        int? holder = null;
        await FailoverLab.WaitUntil(() => (holder = lab.Holder(ClusterTopology.ClusterAddress)) is not null, TimeSpan.FromSeconds(30), "a holder");
        long killedAt = FailoverLab.NowUnixMs();
        lab.Topology.Node(holder!.Value).Signal(9);
        await FailoverLab.WaitUntil(() => lab.Holder(ClusterTopology.ClusterAddress) is { } h && h != holder, Recovery, "a new holder");
        Report($"neighbour address: holder node {holder} killed; node {lab.Holder(ClusterTopology.ClusterAddress)} holds it " +
            $"{FailoverLab.NowUnixMs() - killedAt} ms later");

        // Twice the router's neighbour holdtime: had nobody taken the address over, FRR would have dropped the neighbour,
        // its RPF and every Join through it by now.
        await Task.Delay(ClusterTopology.HelloHoldtime * 2);
        string neighbors = lab.Topology.Router.Vtysh("show ip pim neighbor");
        Assert.Contains(ClusterTopology.ClusterAddress, neighbors, StringComparison.Ordinal);
        for (int i = 0; i < FailoverLab.InitialFlows; i++)
        {
            Assert.True(lab.Receiving(i), $"flow {i} stopped after the neighbour address moved");
        }
        Report($"neighbour address: all {FailoverLab.InitialFlows} flows still received {2 * ClusterTopology.HelloHoldtime.TotalSeconds} s " +
            $"(2 x the neighbour holdtime) after the holder died; FRR still lists {ClusterTopology.ClusterAddress}");
        await lab.Restart(holder.Value);
    }

    [SkippableFact]
    public async Task A_sigterm_hands_the_node_s_sources_over_before_it_leaves()
    {
        RequiresKernel.MulticastRouting();
        await lab.Settle();
        int? host = null;
        await FailoverLab.WaitUntil(() => (host = lab.HostOf(1)) is not null, TimeSpan.FromSeconds(30), "a host for source 1");
        var flowsThere = Enumerable.Range(0, FailoverLab.InitialFlows).Where(i => lab.HostOf(i) == host).ToList();
        var duplicatesBefore = flowsThere.ToDictionary(i => i, i => lab.ReceiverCounter(i, "duplicates"));
        var lostBefore = flowsThere.ToDictionary(i => i, i => lab.ReceiverCounter(i, "lost"));
        long termAt = FailoverLab.NowUnixMs();
        var node = lab.Topology.Node(host!.Value);
        node.Signal(15);
        await FailoverLab.WaitUntil(() => node.HasExited, TimeSpan.FromSeconds(60), $"node {host} to exit after SIGTERM");
        long exitedAfter = FailoverLab.NowUnixMs() - termAt;
        await Task.Delay(2000);
        long lost = flowsThere.Sum(i => lab.ReceiverCounter(i, "lost") - lostBefore[i]);
        long duplicates = flowsThere.Sum(i => lab.ReceiverCounter(i, "duplicates") - duplicatesBefore[i]);
        var gaps = flowsThere.SelectMany(i => lab.GapsSince(i, termAt)).ToList();
        Report($"SIGTERM of node {host} hosting {flowsThere.Count} flow(s): exited after {exitedAfter} ms; lost {lost} packet(s), " +
            $"duplicated {duplicates}; gaps over 250 ms: {(gaps.Count == 0 ? "none" : string.Join(", ", gaps.Select(g => FailoverLab.Ms(g.GapMs))))}");
        Assert.All(flowsThere, i => Assert.True(lab.Receiving(i), $"flow {i} stopped after the graceful leave"));
        await lab.Restart(host.Value);
    }

    [SkippableFact]
    public async Task A_partitioned_node_is_downed_and_stops_emitting()
    {
        RequiresKernel.MulticastRouting();
        // A partition of a settled cluster (Settle: three members Up on every node, no flow moving). Cut within
        // about 2 s of a member joining (the previous test restarts one), the members' failure detectors have not
        // all started on the new member, the isolated node sees its two peers go unreachable 1.5 s apart, and with
        // stable-after = 1s its resolver decides between the two (it downs the first as a 2-of-3 majority, then wins
        // the 1-1 split on the lowest address): it stays up on its own. Known limit, written up in docs/cluster.md.
        await lab.Settle();
        int? host = null;
        await FailoverLab.WaitUntil(() => (host = lab.HostOf(2)) is not null, TimeSpan.FromSeconds(30), "a host for source 2");
        var flowsThere = Enumerable.Range(0, FailoverLab.InitialFlows).Where(i => lab.HostOf(i) == host).ToList();
        var duplicatesBefore = flowsThere.ToDictionary(i => i, i => lab.ReceiverCounter(i, "duplicates"));
        long cutAt = FailoverLab.NowUnixMs();
        lab.Topology.Lab.SetLink(ClusterTopology.NodeNamespace(host!.Value), "c0", up: false);
        try
        {
            var node = lab.Topology.Node(host.Value);
            await FailoverLab.WaitUntil(() => node.HasExited, TimeSpan.FromSeconds(60), $"the partitioned node {host} to down itself and exit");
            long exitedAfter = FailoverLab.NowUnixMs() - cutAt;
            await FailoverLab.WaitUntil(() => flowsThere.All(lab.Receiving), Recovery, "the minority's flows received from the majority");
            await Task.Delay(2000);
            long duplicates = flowsThere.Sum(i => lab.ReceiverCounter(i, "duplicates") - duplicatesBefore[i]);
            var gaps = flowsThere.SelectMany(i => lab.GapsSince(i, cutAt)).ToList();
            // At 100 packets/s, each duplicate is 10 ms during which both the minority and the majority emitted the flow.
            Report($"partition of node {host}'s cluster link: it downed itself and exited after {exitedAfter} ms; its {flowsThere.Count} flow(s) " +
                $"were emitted twice for about {duplicates * 1000 / FailoverLab.Rate / Math.Max(1, flowsThere.Count)} ms each ({duplicates} duplicate packets); " +
                $"gaps: {(gaps.Count == 0 ? "none" : string.Join(", ", gaps.Select(g => FailoverLab.Ms(g.GapMs))))}");
        }
        finally
        {
            lab.Topology.Lab.SetLink(ClusterTopology.NodeNamespace(host.Value), "c0", up: true);
        }
        await lab.Restart(host.Value);
    }

    [SkippableFact]
    public async Task Killing_the_singleton_s_node_in_a_burst_of_joins_loses_no_admitted_flow()
    {
        RequiresKernel.MulticastRouting();
        await lab.Settle();
        int? singleton = null;
        await FailoverLab.WaitUntil(() => (singleton = lab.Holder("budget")) is not null, TimeSpan.FromSeconds(30), "the budget's node");
        for (int i = FailoverLab.InitialFlows; i < ClusterTopology.Sources; i++)
        {
            if (!lab.HasReceiver(i))
            {
                lab.StartReceiver(i);
            }
        }
        // Some of the new joins are admitted by now, some not yet: kill the singleton's node in the middle of it.
        await Task.Delay(1500);
        var admittedBefore = lab.Admitted(lab.LiveNodes().First(n => n != singleton));
        long killedAt = FailoverLab.NowUnixMs();
        lab.Topology.Node(singleton!.Value).Signal(9);

        var survivor = lab.LiveNodes().First(n => n != singleton);
        await FailoverLab.WaitUntil(() => lab.Admitted(survivor).Count == ClusterTopology.Sources, TimeSpan.FromSeconds(60), "all 12 flows admitted");
        var admittedAfter = lab.Admitted(survivor);
        Assert.Empty(admittedBefore.Except(admittedAfter));
        await FailoverLab.WaitUntil(() => Enumerable.Range(0, ClusterTopology.Sources).All(lab.Receiving), TimeSpan.FromSeconds(60), "all 12 receivers");
        Report($"burst: budget's node {singleton} killed with {admittedBefore.Count} of 12 flows admitted; the new singleton had all 12 " +
            $"and every receiver its stream {FailoverLab.NowUnixMs() - killedAt} ms after the kill; no admitted flow was dropped");
        await lab.Restart(singleton.Value);
    }
}
