using System.Globalization;
using Akka.Cluster;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// Forming the cluster without seed nodes: Akka.Management's cluster bootstrap with config discovery, as the compose
/// lab and a Kubernetes StatefulSet use it (each node lists the management endpoints of the expected members).
/// </summary>
public sealed class BootstrapTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ingest-bootstrap-").FullName;
    private readonly List<InProcessNode> _nodes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Three_nodes_listing_each_other_s_management_endpoints_form_one_cluster()
    {
        int[] ports = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        int[] management = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        var starts = new List<Task<InProcessNode>>();
        for (int i = 0; i < 3; i++)
        {
            var extra = new Dictionary<string, string?>
            {
                ["Cluster:Bootstrap:ManagementHostname"] = "127.0.0.1",
                ["Cluster:Bootstrap:ManagementPort"] = management[i].ToString(CultureInfo.InvariantCulture),
                ["Cluster:Bootstrap:RequiredContactPoints"] = "3",
                ["Persistence:ConnectionString"] = $"Data Source={Path.Combine(_directory, "journal.db")}",
            };
            for (int k = 0; k < 3; k++)
            {
                extra[$"Cluster:Bootstrap:Endpoints:{k}"] = $"127.0.0.1:{management[k].ToString(CultureInfo.InvariantCulture)}";
            }
            starts.Add(InProcessNode.Start(Path.Combine(_directory, $"n{i}"), [], ports[i], extra));
        }
        _nodes.AddRange(await Task.WhenAll(starts));

        await InProcessNode.WaitUntil(() => _nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 3),
            TimeSpan.FromSeconds(60), () => string.Join("; ", _nodes.Select(n => string.Join(",", n.Cluster.State.Members.Select(m => $"{m.Address.Port}:{m.Status}")))));
        // One cluster, not islands: every node sees the same three addresses.
        var expected = ports.Select(p => p).Order().ToList();
        Assert.All(_nodes, n => Assert.Equal(expected, n.Cluster.State.Members.Select(m => m.Address.Port!.Value).Order().ToList()));
    }
}
