using System.Collections.Immutable;
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

    [Fact]
    public async Task When_postgresql_stops_the_budget_keeps_its_flows_admits_nothing_new_counts_the_outage_and_recovers_by_itself()
    {
        var kept = new SourceGroup(IPAddress.Parse("198.51.100.81"), IPAddress.Parse("232.8.8.1"));
        var asked = new SourceGroup(IPAddress.Parse("198.51.100.82"), IPAddress.Parse("232.8.8.2"));
        int port = InProcessNode.FreePort();
        await using var node = await InProcessNode.Start(Path.Combine(_directory, "outage"), [], port, Postgres());
        // This test plays a demand origin: it re-sends its whole demand every half second, as the PIM and joinfile
        // origins do, so a restarted budget hears it again.
        var demand = ImmutableArray.Create(kept);
        using var origin = new CancellationTokenSource();
        var resend = Task.Run(async () =>
        {
            while (!origin.IsCancellationRequested)
            {
                node.Budget.Tell(new DemandProtocol.DemandSnapshot("test/outage", demand));
                await Task.Delay(500);
            }
        });
        await InProcessNode.WaitUntil(() => node.HostedSources().Contains(kept.Source), TimeSpan.FromSeconds(30), () => "the first flow admitted");

        await _postgres.Stop();
        demand = demand.Add(asked);
        await InProcessNode.WaitUntil(() => node.Metrics.Value("ingest_budget_journal_failures_total", "stage=\"persist\"") >= 1,
            TimeSpan.FromSeconds(30), () => "the failed persist counted");
        await InProcessNode.WaitUntil(() => node.Metrics.Value("ingest_budget_journal_failures_total", "stage=\"recover\"") >= 1,
            TimeSpan.FromSeconds(30), () => "the restarted budget's failed recovery counted");
        // Down: the flow it had is still carried; the new one was not admitted (it could not be persisted).
        Assert.Contains(kept.Source, node.HostedSources());
        Assert.DoesNotContain(asked.Source, node.HostedSources());
        Assert.DoesNotContain(node.Received, m => m.Source.Equals(asked.Source));

        await _postgres.StartAgain();
        await InProcessNode.WaitUntil(() => node.HostedSources().Contains(asked.Source), TimeSpan.FromSeconds(90), () => "the new flow admitted after the outage");
        var admitted = await node.Budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal([kept, asked], admitted.Flows.OrderBy(f => f.ToString(), StringComparer.Ordinal));
        Assert.Contains(kept.Source, node.HostedSources());
        origin.Cancel();
        await resend;
    }

    private static ClusterFacts.Facts Facts(InProcessNode node) =>
        node.Registry.Get<ClusterFactsActor>().Ask<ClusterFacts.Facts>(ClusterFacts.GetFacts.Instance, TimeSpan.FromSeconds(10)).Result;
}
