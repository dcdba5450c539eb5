using System.Globalization;
using Akka.Cluster;
using IngestCluster.Cli;
using IngestCluster.IntegrationTests.Cluster;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>
/// Three whole nodes in this process on loopback (cluster and admin ports), one shared SQLite journal: ingestctl, over
/// real HTTP, lists every member, and makes one leave.
/// </summary>
public sealed class IngestCtlClusterTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("icop-cluster-").FullName;
    private readonly List<AdminNode> _nodes = [];

    public async Task InitializeAsync()
    {
        int[] ports = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        var journal = new Dictionary<string, string?> { ["Persistence:ConnectionString"] = $"Data Source={Path.Combine(_directory, "journal.db")}" };
        foreach (var port in ports)
        {
            _nodes.Add(await AdminNode.Start(Path.Combine(_directory, port.ToString(CultureInfo.InvariantCulture)), ports, port,
                InProcessNode.FreePort(), journal));
        }
        await InProcessNode.WaitUntil(() => _nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 3),
            TimeSpan.FromSeconds(60), () => "three members up on every node");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Cluster_show_lists_every_member_and_cluster_leave_makes_the_node_leave()
    {
        // pbm's form: the node first.
        var (exit, output, error) = await AdminNode.Ctl(_nodes[1].AdminEndpoint, "cluster", "show");
        Assert.True(exit == ExitCodes.Ok, error);
        foreach (var node in _nodes)
        {
            Assert.Contains(node.Address, output, StringComparison.Ordinal);
        }
        Assert.Contains("3 member(s)", output, StringComparison.Ordinal);
        Assert.Equal(3, output.Split('\n').Count(l => l.Contains(" Up ", StringComparison.Ordinal) && l.Contains("reachable", StringComparison.Ordinal)));

        // The JSON form is the contract's record.
        var (jsonExit, json, _) = await AdminNode.Ctl("--node", _nodes[0].AdminEndpoint, "cluster", "show", "--output", "json");
        Assert.Equal(ExitCodes.Ok, jsonExit);
        var view = System.Text.Json.JsonSerializer.Deserialize(json, IngestCluster.Admin.Contracts.AdminJson.Default.ClusterView)!;
        Assert.Equal(_nodes.Select(n => n.Address).Order(StringComparer.Ordinal), view.Members.Select(m => m.Address).Order(StringComparer.Ordinal));
        Assert.All(view.Members, m => Assert.True(m.Reachable));

        // Node 2 leaves, asked through its own admin API: the others see it go (Exiting, then removed).
        var leaving = _nodes[2];
        var (leaveExit, leaveOut, leaveError) = await AdminNode.Ctl(leaving.AdminEndpoint, "cluster", "leave");
        Assert.True(leaveExit == ExitCodes.Ok, leaveError);
        Assert.Contains(leaving.Address, leaveOut, StringComparison.Ordinal);
        await InProcessNode.WaitUntil(() => _nodes[0].Cluster.State.Members.All(m => m.Address.ToString() != leaving.Address),
            TimeSpan.FromSeconds(45), () => "the leaving node removed: " + string.Join(", ", _nodes[0].Cluster.State.Members.Select(m => $"{m.Address} {m.Status}")));

        var (afterExit, after, _) = await AdminNode.Ctl(_nodes[0].AdminEndpoint, "cluster", "show");
        Assert.Equal(ExitCodes.Ok, afterExit);
        Assert.DoesNotContain(leaving.Address, after, StringComparison.Ordinal);
        Assert.Contains("2 member(s)", after, StringComparison.Ordinal);

        // Its admin API went with it: ingestctl says the node is unreachable.
        await InProcessNode.WaitUntil(() => AdminNode.Ctl(leaving.AdminEndpoint, "cluster", "status").Result.Exit == ExitCodes.Unreachable,
            TimeSpan.FromSeconds(30), () => "the left node's admin API closed");
    }
}
