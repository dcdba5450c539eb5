using System.Net;
using Akka.TestKit.Xunit2;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Joinfiles;

namespace IngestCluster.Node.Tests.Demand;

public sealed class JoinfileDemandActorTests : TestKit
{
    private static readonly SourceGroup A = new(IPAddress.Parse("23.212.185.5"), IPAddress.Parse("232.1.1.1"));
    private static readonly SourceGroup B = new(IPAddress.Parse("23.212.185.5"), IPAddress.Parse("232.1.1.2"));
    private readonly string _directory = Directory.CreateTempSubdirectory("ingest-joinfile-").FullName;
    private readonly NodeMetrics _metrics = new();

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Directory.Delete(_directory, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    [Fact]
    public void Lines_added_and_removed_by_a_whole_file_rewrite_become_joins_and_leaves()
    {
        string path = PathOf("joins.csv");
        File.WriteAllText(path, $"# demand\n{A.Source},{A.Group}\n");
        var budget = CreateTestProbe();
        Sys.ActorOf(JoinfileDemandActor.Props(path, TimeSpan.FromMilliseconds(50), TimeSpan.FromHours(1), budget, "n/joinfile", _metrics));

        Assert.Equal(new DemandProtocol.DemandChanged("n/joinfile", A, true), budget.ExpectMsg<DemandProtocol.DemandChanged>());

        Joinfile.WriteAtomically(path, [new JoinfileEntry(B.Source, B.Group, 12)]);

        var changes = new[] { budget.ExpectMsg<DemandProtocol.DemandChanged>(TimeSpan.FromSeconds(10)), budget.ExpectMsg<DemandProtocol.DemandChanged>() };
        Assert.Contains(new DemandProtocol.DemandChanged("n/joinfile", B, true, Population: 12), changes);
        Assert.Contains(new DemandProtocol.DemandChanged("n/joinfile", A, false), changes);
    }

    [Fact]
    public void A_changed_population_is_sent_again_and_the_snapshot_carries_every_population()
    {
        string path = PathOf("joins.csv");
        File.WriteAllText(path, $"{A.Source},{A.Group},5\n{B.Source},{B.Group}\n");
        var budget = CreateTestProbe();
        var actor = Sys.ActorOf(JoinfileDemandActor.Props(path, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(300), budget, "n/joinfile", _metrics));
        var first = new[] { budget.ExpectMsg<DemandProtocol.DemandChanged>(), budget.ExpectMsg<DemandProtocol.DemandChanged>() };
        Assert.Contains(new DemandProtocol.DemandChanged("n/joinfile", A, true, 5), first);
        Assert.Contains(new DemandProtocol.DemandChanged("n/joinfile", B, true, 1), first);

        // Only A's line changes (its population); B is not sent again.
        Joinfile.WriteAtomically(path, [new JoinfileEntry(A.Source, A.Group, 40), new JoinfileEntry(B.Source, B.Group)]);
        var changed = budget.FishForMessage<DemandProtocol.DemandChanged>(_ => true, TimeSpan.FromSeconds(10));
        Assert.Equal(new DemandProtocol.DemandChanged("n/joinfile", A, true, 40), changed);

        var snapshot = budget.FishForMessage<DemandProtocol.DemandSnapshot>(_ => true, TimeSpan.FromSeconds(10));
        var populations = snapshot.Flows.Select((f, i) => (f, snapshot.PopulationAt(i))).ToHashSet();
        Assert.Equal(new HashSet<(SourceGroup, int)> { (A, 40), (B, 1) }, populations);
        Sys.Stop(actor);
    }

    [Fact]
    public void A_bad_line_is_counted_and_the_good_lines_still_count()
    {
        string path = PathOf("joins.csv");
        File.WriteAllText(path, $"{A.Source},{A.Group}\nnot-an-address,232.1.1.1\n{B.Source},{B.Group},7\n");
        var budget = CreateTestProbe();
        Sys.ActorOf(JoinfileDemandActor.Props(path, TimeSpan.FromMilliseconds(50), TimeSpan.FromHours(1), budget, "o", _metrics));

        var flows = new[] { budget.ExpectMsg<DemandProtocol.DemandChanged>(), budget.ExpectMsg<DemandProtocol.DemandChanged>() }
            .Select(c => c.Flow).ToHashSet();
        Assert.Equal(new HashSet<SourceGroup> { A, B }, flows);
        AwaitCondition(() => _metrics.Value("ingest_joinfile_line_errors_total") == 1);
    }

    [Fact]
    public void An_ipv6_channel_is_a_counted_line_error_and_the_ipv4_lines_still_count()
    {
        string path = PathOf("joins.csv");
        File.WriteAllText(path, $"2001:db8::12,ff3e::8000:1\n{A.Source},{A.Group}\n");
        var budget = CreateTestProbe();
        Sys.ActorOf(JoinfileDemandActor.Props(path, TimeSpan.FromMilliseconds(50), TimeSpan.FromHours(1), budget, "o", _metrics));

        Assert.Equal(A, budget.ExpectMsg<DemandProtocol.DemandChanged>().Flow);
        budget.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        AwaitCondition(() => _metrics.Value("ingest_joinfile_line_errors_total") == 1);
    }

    [Fact]
    public void A_missing_joinfile_is_created_empty_and_means_no_demand()
    {
        string path = PathOf("sub/joins.csv");
        var budget = CreateTestProbe();
        Sys.ActorOf(JoinfileDemandActor.Props(path, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), budget, "o", _metrics));

        var snapshot = budget.FishForMessage<DemandProtocol.DemandSnapshot>(_ => true, TimeSpan.FromSeconds(5));
        Assert.Empty(snapshot.Flows);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Snapshots_carry_the_whole_current_demand()
    {
        string path = PathOf("joins.csv");
        File.WriteAllText(path, $"{A.Source},{A.Group}\n{B.Source},{B.Group}\n");
        var budget = CreateTestProbe();
        Sys.ActorOf(JoinfileDemandActor.Props(path, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), budget, "o", _metrics));

        var snapshot = budget.FishForMessage<DemandProtocol.DemandSnapshot>(s => s.Flows.Length == 2, TimeSpan.FromSeconds(5));
        Assert.Equal(new HashSet<SourceGroup> { A, B }, snapshot.Flows.ToHashSet());
    }
}
