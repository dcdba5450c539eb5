using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using Microsoft.Extensions.DependencyInjection;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// The shared journal: a budget singleton recovers its admitted flows from a real PostgreSQL after its node is gone,
/// and members that do not share one journal are detected and reported.
/// </summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ingest-persist-").FullName;
    private PostgresServer _postgres = null!;

    public async Task InitializeAsync() => _postgres = await PostgresServer.Start();

    public async Task DisposeAsync()
    {
        await _postgres.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private Dictionary<string, string?> Postgres() => new()
    {
        ["Persistence:Provider"] = "postgresql",
        ["Persistence:ConnectionString"] = _postgres.ConnectionString,
    };

    [Fact]
    public async Task A_new_node_recovers_the_admitted_flows_from_postgresql_after_the_first_is_gone()
    {
        var flow = new SourceGroup(IPAddress.Parse("198.51.100.77"), IPAddress.Parse("232.7.7.7"));
        int port = InProcessNode.FreePort();
        await using (var first = await InProcessNode.Start(Path.Combine(_directory, "a"), [], port, Postgres()))
        {
            first.Budget.Tell(new DemandProtocol.DemandChanged("test/a", flow, Joined: true));
            await InProcessNode.WaitUntil(() => first.HostedSources().Contains(flow.Source), TimeSpan.FromSeconds(30), () => "the flow admitted");
        }

        // Another node, another data directory, the same database: no demand is sent, the flow comes from the journal.
        int port2 = InProcessNode.FreePort();
        await using var second = await InProcessNode.Start(Path.Combine(_directory, "b"), [], port2, Postgres());
        await InProcessNode.WaitUntil(() => second.HostedSources().Contains(flow.Source), TimeSpan.FromSeconds(30), () => "the flow recovered");
        var admitted = await second.Budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(flow, Assert.Single(admitted.Flows));
    }

    [Fact]
    public async Task Members_on_different_journals_are_reported_and_members_on_one_are_not()
    {
        int[] ports = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
        // Two members share PostgreSQL; the third has its own SQLite file.
        await using var a = await InProcessNode.Start(Path.Combine(_directory, "a"), ports, ports[0], Postgres());
        await using var b = await InProcessNode.Start(Path.Combine(_directory, "b"), ports, ports[1], Postgres());
        await InProcessNode.WaitUntil(() => a.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 2, TimeSpan.FromSeconds(60), () => "two members");
        var facts = Facts(a);
        await InProcessNode.WaitUntil(() => (facts = Facts(a)).JournalByMember.Values.Count(v => v is not null) == 2, TimeSpan.FromSeconds(30), () => "both identities");
        Assert.False(facts.JournalMismatch);
        Assert.Equal(0, a.Metrics.Value("ingest_journal_mismatch_total"));

        await using var c = await InProcessNode.Start(Path.Combine(_directory, "c"), ports, ports[2], []);
        await InProcessNode.WaitUntil(() => (facts = Facts(a)).JournalMismatch, TimeSpan.FromSeconds(60), () => "the mismatch seen");
        Assert.Equal(2, facts.JournalByMember.Values.OfType<string>().Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(1, a.Metrics.Value("ingest_journal_mismatch_total"));
    }

    private static ClusterFacts.Facts Facts(InProcessNode node) =>
        node.Registry.Get<ClusterFactsActor>().Ask<ClusterFacts.Facts>(ClusterFacts.GetFacts.Instance, TimeSpan.FromSeconds(10)).Result;
}
