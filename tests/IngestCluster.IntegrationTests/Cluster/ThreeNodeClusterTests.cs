using System.Net;
using Akka.Actor;
using Akka.Cluster;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Protocols;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// Three real nodes in this process, on loopback ports, sharing one PostgreSQL journal, with every message
/// serialized: demand told to any node reaches the budget singleton, the sources spread over the nodes by sharding,
/// and a node that leaves hands its sources to the others and takes its demand with it.
/// </summary>
public sealed class ThreeNodeClusterTests : IAsyncLifetime
{
    private static readonly IPAddress Group = IPAddress.Parse("232.9.9.9");
    private readonly string _directory = Directory.CreateTempSubdirectory("ingest-3node-").FullName;
    private readonly List<InProcessNode> _nodes = [];
    private PostgresServer _postgres = null!;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.Start();
        int[] ports = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        var extra = new Dictionary<string, string?>
        {
            ["Persistence:Provider"] = "postgresql",
            ["Persistence:ConnectionString"] = _postgres.ConnectionString,
        };
        foreach (var port in ports)
        {
            _nodes.Add(await InProcessNode.Start(Path.Combine(_directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture)), ports, port, extra));
        }
        await InProcessNode.WaitUntil(() => _nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 3),
            TimeSpan.FromSeconds(60), () => "three members up");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
        await _postgres.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static IPAddress Source(int i) => IPAddress.Parse($"198.51.100.{i + 1}");

    [Fact]
    public async Task Sources_spread_over_the_nodes_and_a_leaving_node_hands_its_sources_and_demand_over()
    {
        // Demand from an origin on node 2, told to node 2's proxy; the budget singleton is on the oldest (node 0).
        var flows = Enumerable.Range(0, 30).Select(i => new SourceGroup(Source(i), Group)).ToList();
        // Sent by an actor on node 2, as node 2's listeners do: the budget learns the origin's node from the sender.
        var origin = _nodes[2].System.ActorOf(Props.Create(() => new Origin(_nodes[2].Budget)));
        origin.Tell(new DemandProtocol.DemandSnapshot("n2/joinfile", [.. flows]));
        await InProcessNode.WaitUntil(() => _nodes.Sum(n => n.HostedSources().Count) == 30, TimeSpan.FromSeconds(30),
            () => $"hosted {string.Join(", ", _nodes.Select(n => n.HostedSources().Count))}; {Admitted(_nodes[0])}");
        // Spread over all three: at once when every region had registered with the coordinator before the first
        // shard was allocated; else by the coordinator's rebalance (every 10 s), which a node that got none must see.
        await InProcessNode.WaitUntil(() => _nodes.All(n => n.HostedSources().Count > 0) && _nodes.Sum(n => n.HostedSources().Count) == 30,
            TimeSpan.FromSeconds(60), () => $"every node hosting sources: {string.Join(", ", _nodes.Select(n => n.HostedSources().Count))}");

        // Node 1 leaves: its sources are started on the other two, no source is lost.
        var leaving = _nodes[1];
        var moved = leaving.HostedSources();
        await leaving.Stop();
        await InProcessNode.WaitUntil(() => moved.All(s => _nodes[0].HostedSources().Contains(s) || _nodes[2].HostedSources().Contains(s)),
            TimeSpan.FromSeconds(30), () => $"{moved.Count} sources of the leaving node restarted elsewhere");

        // Node 2 leaves: the budget forgets its origin (the flows are then only in the grace period, still admitted).
        var budget = _nodes[0].Budget;
        var before = await budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(5));
        Assert.Contains("n2/joinfile", before.Origins);
        await _nodes[2].Stop();
        await InProcessNode.WaitUntil(() =>
        {
            var after = budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(5)).Result;
            return !after.Origins.Contains("n2/joinfile") && after.Flows.Length == 30;
        }, TimeSpan.FromSeconds(30), () => "the left node's origin forgotten, its flows kept for the grace period");
        Assert.Equal(0, _nodes[0].Metrics.Total("ingest_wire_rejected_total"));
    }

    private static string Admitted(InProcessNode node)
    {
        try
        {
            var a = node.Budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(5)).Result;
            return $"budget: {a.Flows.Length} admitted, origins {string.Join(",", a.Origins)}";
        }
        catch (AggregateException e)
        {
            return "budget: " + e.GetBaseException().Message;
        }
    }

    private sealed class Origin : ReceiveActor
    {
        public Origin(IActorRef budget) => ReceiveAny(m => budget.Tell(m));
    }
}
