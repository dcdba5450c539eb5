using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using IngestCluster.IntegrationTests.Cluster;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Protocols;

namespace IngestCluster.LabBench;

/// <summary>
/// <c>budget</c>: the budget's journal, on SQLite and (when Debian's postgresql package is there and we are root)
/// on a throw-away PostgreSQL on 127.0.0.1. For each journal, in one run:
/// <list type="number">
/// <item>persisted decisions per second: <c>flows</c> joins, then as many leaves, told to the budget singleton of a
/// one-node cluster in the same process (no remoting), timed until its counters say every decision was persisted;
/// the same for a budget that never snapshots (the same-run baseline for what the snapshots cost);</item>
/// <item>recovery with <c>flows</c> admitted: a second node on the same journal, from its start to its singleton
/// answering with every flow; then, in that node, budgets started by hand on the persistence ids, from their start
/// to their first answer (they answer only once recovered): the singleton's id (a snapshot and a tail), the id that
/// never snapshotted (every event replayed) and an empty id (the journal's fixed cost).</item>
/// </list>
/// </summary>
public static class BudgetBench
{
    private const string NoSnapshotId = "bench-budget-no-snapshot";

    public static async Task<int> Run(int flows, int rounds)
    {
        var all = Enumerable.Range(0, flows).Select(i => new SourceGroup(
            IPAddress.Parse($"10.202.{i / 62500}.{i / 250 % 250 + 1}"), IPAddress.Parse($"232.6.{i % 250}.{i / 250 % 250 + 1}"))).ToList();
        string directory = Directory.CreateTempSubdirectory("ingest-budgetbench-").FullName;
        try
        {
            await Journal("sqlite", new() { ["Persistence:ConnectionString"] = $"Data Source={Path.Combine(directory, "journal.db")}" },
                directory, all, rounds);
            if (Environment.UserName == "root" && Directory.Exists("/usr/lib/postgresql"))
            {
                await using var postgres = await PostgresServer.Start();
                await Journal("postgresql", new()
                {
                    ["Persistence:Provider"] = "postgresql",
                    ["Persistence:ConnectionString"] = postgres.ConnectionString,
                }, directory, all, rounds);
            }
            else
            {
                Console.WriteLine("postgresql: skipped (needs root and Debian's postgresql package)");
            }
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task Journal(string name, Dictionary<string, string?> journal, string directory, List<SourceGroup> all, int rounds)
    {
        int flows = all.Count;
        var extra = new Dictionary<string, string?>(journal) { ["Budget:ReconcileInterval"] = "10m" };
        var settings = new BudgetSettings { ReconcileInterval = TimeSpan.FromMinutes(10), SnapshotEvery = 1_000_000 };
        int snapshotEvery = new BudgetSettings().SnapshotEvery;

        await using (var first = await Single(Path.Combine(directory, name + "-a"), extra))
        {
            // The singleton (snapshots every Budget:SnapshotEvery events, the default).
            var (joins, leaves) = await JoinsThenLeaves(first.Budget, first.Metrics, all, keep: false);
            Console.WriteLine($"{name}: budget singleton (snapshot after max({snapshotEvery}, admitted/2) events): {flows} joins {Rate(flows, joins)} decisions/s " +
                $"({joins.TotalSeconds:0.00} s), {flows} leaves {Rate(flows, leaves)}/s ({leaves.TotalSeconds:0.00} s)");
            (joins, _) = await JoinsThenLeaves(first.Budget, first.Metrics, all, keep: true);
            Console.WriteLine($"{name}: again, flows kept for the recovery: {flows} joins {Rate(flows, joins)}/s ({joins.TotalSeconds:0.00} s)");

            // The baseline: the same budget that never snapshots.
            var metrics = new NodeMetrics();
            var plain = first.System.ActorOf(BandwidthBudgetActor.Props(ActorRefs.Nobody, settings, TimeProvider.System, metrics, null, NoSnapshotId));
            await plain.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(60));
            (joins, _) = await JoinsThenLeaves(plain, metrics, all, keep: true);
            Console.WriteLine($"{name}: baseline, a budget that never snapshots: {flows} joins {Rate(flows, joins)}/s ({joins.TotalSeconds:0.00} s)");
        }

        var clock = Stopwatch.StartNew();
        await using var second = await Single(Path.Combine(directory, name + "-b"), extra);
        await InProcessNode.WaitUntil(() => Count(second.Budget) == flows, TimeSpan.FromMinutes(2), () => $"{flows} recovered flows");
        Console.WriteLine($"{name}: a new node on the same journal, from its start to its singleton answering with {flows} admitted flows: " +
            $"{clock.Elapsed.TotalMilliseconds:0} ms (node start, cluster join, singleton start and recovery)");

        var ids = new[] { (BandwidthBudgetActor.PersistenceIdValue, "snapshot + tail"), (NoSnapshotId, "every event replayed"), ("bench-budget-empty", "empty id") };
        var samples = ids.ToDictionary(id => id.Item1, _ => new List<double>());
        for (int round = 0; round < rounds; round++)
        {
            foreach (var (id, _) in ids)
            {
                var started = Stopwatch.StartNew();
                var budget = second.System.ActorOf(BandwidthBudgetActor.Props(ActorRefs.Nobody, settings, TimeProvider.System, new NodeMetrics(), null, id));
                var answer = await budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromMinutes(2));
                samples[id].Add(started.Elapsed.TotalMilliseconds);
                await budget.GracefulStop(TimeSpan.FromSeconds(10));
                if (id != "bench-budget-empty" && answer.Flows.Length != flows)
                {
                    throw new InvalidOperationException($"{id} recovered {answer.Flows.Length} of {flows} flows");
                }
            }
        }
        double emptyMedian = Median(samples["bench-budget-empty"]);
        foreach (var (id, what) in ids)
        {
            double median = Median(samples[id]);
            Console.WriteLine($"{name}: recovery of {id} ({what}), start to first answer, {rounds} rounds: median {median:0.0} ms " +
                $"[{string.Join(", ", samples[id].Select(s => s.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}]" +
                (id == "bench-budget-empty" ? "" : $", {median / emptyMedian:0.0}x the empty id"));
        }
    }

    private static async Task<InProcessNode> Single(string data, Dictionary<string, string?> extra)
    {
        int port = InProcessNode.FreePort();
        var node = await InProcessNode.Start(data, [port], port, extra);
        await InProcessNode.WaitUntil(() => node.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 1, TimeSpan.FromSeconds(60), () => "the member up");
        await node.Budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(60));
        return node;
    }

    /// <summary>Tells the budget every join, times until every admission is persisted (the budget's counter moves in
    /// the persist callback); then, unless <paramref name="keep"/>, the leaves.</summary>
    private static async Task<(TimeSpan Joins, TimeSpan Leaves)> JoinsThenLeaves(IActorRef budget, NodeMetrics metrics, List<SourceGroup> all, bool keep)
    {
        long admitted = metrics.Value("ingest_budget_flows_admitted_total");
        long released = metrics.Value("ingest_budget_flows_released_total");
        var clock = Stopwatch.StartNew();
        foreach (var flow in all)
        {
            budget.Tell(new DemandProtocol.DemandChanged("bench/budget", flow, Joined: true));
        }
        await InProcessNode.WaitUntil(() => metrics.Value("ingest_budget_flows_admitted_total") - admitted == all.Count, TimeSpan.FromMinutes(5),
            () => $"{metrics.Value("ingest_budget_flows_admitted_total") - admitted} of {all.Count} admitted");
        var joins = clock.Elapsed;
        if (keep)
        {
            return (joins, TimeSpan.Zero);
        }
        clock.Restart();
        foreach (var flow in all)
        {
            budget.Tell(new DemandProtocol.DemandChanged("bench/budget", flow, Joined: false));
        }
        await InProcessNode.WaitUntil(() => metrics.Value("ingest_budget_flows_released_total") - released == all.Count, TimeSpan.FromMinutes(5),
            () => $"{metrics.Value("ingest_budget_flows_released_total") - released} of {all.Count} released");
        return (joins, clock.Elapsed);
    }

    private static int Count(IActorRef budget)
    {
        try
        {
            return budget.Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(5)).Result.Flows.Length;
        }
        catch (AggregateException)
        {
            return -1;
        }
    }

    private static string Rate(int count, TimeSpan time) => (count / time.TotalSeconds).ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    private static double Median(List<double> samples)
    {
        var sorted = samples.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
