using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using IngestCluster.Lab.Topology;
using IngestCluster.Node.Budget;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Joinfiles;
using Npgsql;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// The budget through 20 failovers: three node processes on loopback share a real PostgreSQL journal, with a limit
/// of 8 Mbit/s and every flow 1 Mbit/s (the default bitrate). Between kills the demand (the same joinfile on every
/// node) changes between 5 and 12 flows, and at a random moment after each change the node holding the budget
/// singleton is killed with SIGKILL, then restarted. Afterwards the journal itself is replayed: no flow is admitted
/// while admitted (a singleton deciding before it recovered would do that), the admitted total never exceeds the
/// limit, and no flow is released but those whose demand went away. Then what the source entities were told (each
/// logs its groups as they change): no join before its admission was persisted, no leave but of a released flow, and
/// what they were told to carry at any moment is what the journal admitted then (or released in the last moments).
/// </summary>
public sealed partial class BudgetFailoverTests : IAsyncLifetime
{
    private const int Kills = 20;
    private const long Limit = 8_000_000;
    private static readonly SourceGroup[] Flows = [.. Enumerable.Range(0, 12)
        .Select(i => new SourceGroup(IPAddress.Parse($"198.51.100.{50 + i}"), IPAddress.Parse($"232.9.0.{i}")))];

    private readonly string _directory = Directory.CreateTempSubdirectory("ingest-budget-failover-").FullName;
    private readonly LabProcess?[] _nodes = new LabProcess?[3];
    private readonly List<LabProcess> _all = [];
    private readonly List<(LabProcess Process, DateTimeOffset At)> _killed = [];
    private bool _passed;
    private readonly int[] _clusterPorts = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
    private readonly int[] _adminPorts = [InProcessNode.FreePort(), InProcessNode.FreePort(), InProcessNode.FreePort()];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private PostgresServer _postgres = null!;

    public async Task InitializeAsync() => _postgres = await PostgresServer.Start();

    public async Task DisposeAsync()
    {
        foreach (var process in _all)
        {
            process.Dispose();
        }
        _http.Dispose();
        await _postgres.DisposeAsync();
        if (_passed)
        {
            Directory.Delete(_directory, recursive: true);
        }
        // Otherwise the node logs stay in _directory (ingest-budget-failover-* under the temp directory), for the failure.
    }

    [Fact]
    public async Task Twenty_kills_of_the_singletons_node_while_demand_changes_never_exceed_the_limit_nor_drop_a_demanded_flow()
    {
        var random = new Random(20261202);
        var demand = Flows.Take(6).ToHashSet();
        // Each demand with when it was written, to judge each release by what was demanded around it.
        var history = new List<(DateTimeOffset At, HashSet<SourceGroup> Demand)> { (DateTimeOffset.UtcNow, demand) };
        WriteDemand(demand);
        for (int n = 0; n < 3; n++)
        {
            Start(n);
        }
        await WaitUntil(() => Enumerable.Range(0, 3).All(n => UpMembers(n) == 3), TimeSpan.FromSeconds(120), "three members");
        await WaitUntil(() => Budget() is { } b && Admitted(b).Count == 6, TimeSpan.FromSeconds(60), "the first six flows admitted");

        var outages = new List<double>();
        for (int kill = 0; kill < Kills; kill++)
        {
            // A new demand: some flows go, some come (5 to 12 in all).
            var next = Flows.OrderBy(_ => random.Next()).Take(random.Next(5, 13)).ToHashSet();
            demand = next;
            history.Add((DateTimeOffset.UtcNow, demand));
            WriteDemand(demand);
            await Task.Delay(random.Next(0, 1500));

            int holder = await HolderOfBudget(TimeSpan.FromSeconds(60));
            var killedAt = DateTime.UtcNow;
            _killed.Add((_nodes[holder]!, DateTimeOffset.UtcNow));
            _nodes[holder]!.Signal(9);
            await WaitUntil(() => _nodes[holder]!.HasExited, TimeSpan.FromSeconds(10), $"node {holder} to die");
            int next_holder = await HolderOfBudget(TimeSpan.FromSeconds(60), except: holder);
            await WaitUntil(() => Budget(next_holder) is not null, TimeSpan.FromSeconds(60), "the new singleton answering");
            outages.Add((DateTime.UtcNow - killedAt).TotalSeconds);

            Start(holder);
            try
            {
                await WaitUntil(() => Enumerable.Range(0, 3).All(n => UpMembers(n) == 3), TimeSpan.FromSeconds(120), $"three members after kill {kill + 1}");
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}; members as each node sees them: {MemberViews()}", e);
            }
        }

        // Settled: the last demand, at most 8 of its flows, all admitted.
        int expected = Math.Min(demand.Count, 8);
        var demanded = demand.Select(f => f.ToString()).ToHashSet();
        JsonElement settled = default;
        await WaitUntil(() => Budget() is { } b && Admitted(settled = b).Count == expected && Admitted(b).All(demanded.Contains),
            TimeSpan.FromSeconds(60), $"the last demand ({demand.Count} flows) settled");
        Assert.True(settled.GetProperty("usedBitsPerSecond").GetInt64() <= Limit);

        var events = await JournalEvents();
        var admitted = new HashSet<SourceGroup>();
        long maxUsed = 0;
        foreach (var (sequence, e) in events)
        {
            switch (e)
            {
                case BudgetEvents.FlowAdmitted a:
                    Assert.True(admitted.Add(a.Flow), $"event {sequence}: {a.Flow} admitted while admitted (a budget decided before it recovered)");
                    Assert.Equal(1_000_000, a.BitsPerSecond);
                    break;
                case BudgetEvents.FlowReleased r:
                    Assert.True(admitted.Remove(r.Flow), $"event {sequence}: {r.Flow} released but not admitted");
                    // Left (its last origin left it) or Unclaimed (nobody claimed it for the grace): either way, its
                    // demand must have gone within the grace and some slack before.
                    Assert.True(r.Reason is ReleaseReason.Left or ReleaseReason.Unclaimed, $"event {sequence}: {r.Flow} released ({r.Reason})");
                    Assert.True(DemandWentWithin(history, r.Flow, r.At, TimeSpan.FromSeconds(30)),
                        $"event {sequence}: {r.Flow} released ({r.Reason}) at {r.At:O} though it was demanded all along");
                    break;
            }
            maxUsed = Math.Max(maxUsed, admitted.Count * 1_000_000L);
            Assert.True(admitted.Count * 1_000_000L <= Limit, $"event {sequence}: {admitted.Count} Mbit/s admitted, over the limit");
        }
        Assert.Equal(Admitted(settled).ToHashSet(), admitted.Select(f => f.ToString()).ToHashSet());
        Assert.True(events.Count > Kills, $"only {events.Count} events");

        var told = CheckWhatTheSourcesWereTold(events);

        outages.Sort();
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, "budget-failover-report.txt"),
        [
            $"kills {Kills}, events {events.Count}, max admitted {maxUsed / 1_000_000} Mbit/s of {Limit / 1_000_000}",
            $"source entities told: {told.Joins} joins, {told.Leaves} leaves, {told.Stops} entity stops with groups, {told.Kills} entities killed with their node; "
                + $"most flows told at once {told.MaxCarried} (of them released within {ReleaseInFlight.TotalSeconds:0} s: at most {told.MaxInFlight})",
            $"kill to new singleton answering: median {outages[outages.Count / 2]:0.0} s, max {outages[^1]:0.0} s",
        ]);
        _passed = true;
    }

    /// <summary>How long a release may take to reach its source entity (the push and remoting, on a loaded machine).</summary>
    private static readonly TimeSpan ReleaseInFlight = TimeSpan.FromSeconds(2);

    [GeneratedRegex(@"source\.(?<what>groups|stopped): (?<source>\S+) (?:\[(?<now>[^\]]*)\] \(was \[(?<was>[^\]]*)\]\)|with \[(?<was>[^\]]*)\]) at (?<at>\S+)")]
    private static partial Regex SourceLine();

    private sealed record Told(int Joins, int Leaves, int Stops, int Kills, int MaxCarried, int MaxInFlight);

    /// <summary>
    /// Reads back every node process's <c>source.groups</c> and <c>source.stopped</c> lines (each entity logs what it
    /// is told to join as it changes, with its time) and checks them against the journal: a join only of a flow the
    /// journal admitted before it; a leave only of a flow the journal released before it; and at every moment the
    /// flows the live entities carry are admitted then, or were released less than <see cref="ReleaseInFlight"/> ago
    /// (a release and the admission it makes room for go to two entities on two nodes, and may arrive in either order).
    /// An entity ends with its node's SIGKILL or with its stop line.
    /// </summary>
    private Told CheckWhatTheSourcesWereTold(List<(long Sequence, object Event)> events)
    {
        var admittedAt = new Dictionary<SourceGroup, List<(DateTimeOffset From, DateTimeOffset? To)>>();
        foreach (var (_, e) in events)
        {
            switch (e)
            {
                case BudgetEvents.FlowAdmitted a:
                    if (!admittedAt.TryGetValue(a.Flow, out var spans))
                    {
                        admittedAt[a.Flow] = spans = [];
                    }
                    spans.Add((a.At, null));
                    break;
                case BudgetEvents.FlowReleased r:
                    var list = admittedAt[r.Flow];
                    list[^1] = (list[^1].From, r.At);
                    break;
            }
        }
        bool AdmittedAt(SourceGroup flow, DateTimeOffset at) =>
            admittedAt.TryGetValue(flow, out var spans) && spans.Any(s => s.From <= at && (s.To is null || at < s.To));
        bool ReleasedWithin(SourceGroup flow, DateTimeOffset at) =>
            admittedAt.TryGetValue(flow, out var spans) && spans.Any(s => s.To is { } to && to <= at && at - to < ReleaseInFlight);
        // The flow's last admission before the moment had ended by then.
        bool ReleasedBefore(SourceGroup flow, DateTimeOffset at) =>
            admittedAt.TryGetValue(flow, out var spans) && spans.LastOrDefault(s => s.From <= at) is { To: { } to } && to <= at;

        // (time, entity = process and source, what it carries from then on, what it carried, whether it stopped).
        var changes = new List<(DateTimeOffset At, LabProcess Process, string Source, string[] Now, string[] Was, bool Stopped)>();
        foreach (var process in _all)
        {
            foreach (var line in process.Lines())
            {
                var match = SourceLine().Match(line);
                if (!match.Success)
                {
                    continue;
                }
                string[] Groups(string name) => match.Groups[name].Success && match.Groups[name].Value.Length > 0 ? match.Groups[name].Value.Split(',') : [];
                var at = DateTimeOffset.Parse(match.Groups["at"].Value, CultureInfo.InvariantCulture);
                bool stopped = match.Groups["what"].Value == "stopped";
                changes.Add((at, process, match.Groups["source"].Value, stopped ? [] : Groups("now"), Groups("was"), stopped));
            }
        }
        var carried = new Dictionary<(LabProcess Process, string Source), string[]>();
        int joins = 0, leaves = 0, stops = 0, kills = 0, maxCarried = 0, maxInFlight = 0;
        var killsLeft = new Queue<(LabProcess Process, DateTimeOffset At)>(_killed.OrderBy(k => k.At));
        foreach (var change in changes.OrderBy(c => c.At))
        {
            while (killsLeft.TryPeek(out var kill) && kill.At <= change.At)
            {
                killsLeft.Dequeue();
                var dead = carried.Keys.Where(k => k.Process == kill.Process).ToList();
                kills += dead.Count;
                dead.ForEach(k => carried.Remove(k));
            }
            var key = (change.Process, change.Source);
            var was = carried.TryGetValue(key, out var before) ? before : [];
            Assert.Equal(was, change.Was);
            var source = IPAddress.Parse(change.Source);
            if (change.Stopped)
            {
                // Handed off or shut down: it carries nothing more, and that is no leave (its tunnel lingers, the new
                // home carries the flow).
                stops++;
            }
            else
            {
                foreach (var group in change.Now.Except(was))
                {
                    joins++;
                    var flow = new SourceGroup(source, IPAddress.Parse(group));
                    // Admitted then; or a re-send of the set that was on its way when the flow was released.
                    Assert.True(AdmittedAt(flow, change.At) || ReleasedWithin(flow, change.At),
                        $"{change.Process.Name} {flow} told to join at {change.At:O}, not admitted in the journal then");
                }
                foreach (var group in was.Except(change.Now))
                {
                    leaves++;
                    var flow = new SourceGroup(source, IPAddress.Parse(group));
                    Assert.True(ReleasedBefore(flow, change.At), $"{change.Process.Name} {flow} told to leave at {change.At:O}, but the journal had not released it");
                }
            }
            if (change.Now.Length == 0)
            {
                carried.Remove(key);
            }
            else
            {
                carried[key] = change.Now;
            }

            var flows = carried.SelectMany(kv => kv.Value.Select(g => new SourceGroup(IPAddress.Parse(kv.Key.Source), IPAddress.Parse(g)))).ToHashSet();
            int inFlight = 0;
            foreach (var flow in flows)
            {
                if (!AdmittedAt(flow, change.At))
                {
                    Assert.True(ReleasedWithin(flow, change.At),
                        $"at {change.At:O} the sources carried {flow}, which the journal had released more than {ReleaseInFlight} before (or never admitted)");
                    inFlight++;
                }
            }
            maxCarried = Math.Max(maxCarried, flows.Count);
            maxInFlight = Math.Max(maxInFlight, inFlight);
        }
        Assert.True(joins > Kills, $"only {joins} joins told to source entities");
        return new Told(joins, leaves, stops, kills, maxCarried, maxInFlight);
    }

    /// <summary>Whether some demand in force during [at − window, at] lacked the flow.</summary>
    private static bool DemandWentWithin(List<(DateTimeOffset At, HashSet<SourceGroup> Demand)> history, SourceGroup flow, DateTimeOffset at, TimeSpan window)
    {
        int first = history.FindLastIndex(h => h.At <= at - window);
        return history.Skip(Math.Max(first, 0)).Where(h => h.At <= at).Any(h => !h.Demand.Contains(flow));
    }

    private void Start(int n)
    {
        _nodes[n]?.Dispose();
        string P(int port) => port.ToString(CultureInfo.InvariantCulture);
        // One log per incarnation (node0-1, node0-2, ...): a restart must not overwrite the log of the one it replaces.
        var process = LabProcess.Start($"node{n}-{_all.Count(p => p.Name.StartsWith($"node{n}-", StringComparison.Ordinal)) + 1}", _directory, "dotnet",
        [
            IngestTopology.Program("IngestCluster.Node"),
            $"--Node:DataDirectory={Path.Combine(_directory, $"node{n}")}",
            $"--Cluster:Port={P(_clusterPorts[n])}",
            .. Enumerable.Range(0, 3).Select(i => $"--Cluster:SeedNodes:{i}=akka.tcp://ingest@127.0.0.1:{P(_clusterPorts[i])}"),
            $"--Admin:Url=http://127.0.0.1:{P(_adminPorts[n])}",
            "--Persistence:Provider=postgresql",
            $"--Persistence:ConnectionString={_postgres.ConnectionString}",
            "--Sources:Host=true",
            $"--Demand:Joinfile={Path.Combine(_directory, $"demand{n}.csv")}",
            "--Demand:JoinfileDebounce=50ms",
            "--Demand:SnapshotInterval=1s",
            "--Budget:Limit=8Mbps",
            "--Budget:DefaultBitrate=1Mbps",
            "--Budget:Metadata:Enabled=false",
            "--Budget:ReconcileInterval=1s",
            // Short, so the test settles: a flow that waited for room is considered again after 2 s, and a recovered flow
            // that nobody demands any more goes after 15 s (the origins re-send their demand every second).
            "--Budget:BlockedHoldDown=2s",
            "--Budget:DemandGrace=15s",
            // Every event stays in the journal, for the replay below.
            "--Budget:SnapshotEvery=1000000",
            // No DRIAD: the sources resolve nothing, quickly (the budget is what is tested).
            "--Dns:Servers:0=127.0.0.1:9",
            "--Dns:Timeout=200ms",
        ]);
        _nodes[n] = process;
        _all.Add(process);
    }

    private void WriteDemand(IReadOnlyCollection<SourceGroup> flows)
    {
        for (int n = 0; n < 3; n++)
        {
            Joinfile.WriteAtomically(Path.Combine(_directory, $"demand{n}.csv"), flows.Select(f => new JoinfileEntry(f.Source, f.Group)));
        }
    }

    private JsonElement? Get(int n, string path)
    {
        if (_nodes[n] is not { HasExited: false })
        {
            return null;
        }
        try
        {
            using var response = _http.GetAsync($"http://127.0.0.1:{_adminPorts[n].ToString(CultureInfo.InvariantCulture)}{path}").Result;
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            using var document = JsonDocument.Parse(response.Content.ReadAsStringAsync().Result);
            return document.RootElement.Clone();
        }
        catch (Exception e) when (e is AggregateException or HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private JsonElement? Budget(int? n = null) =>
        n is { } node ? Get(node, "/budget") : Enumerable.Range(0, 3).Select(i => Get(i, "/budget")).FirstOrDefault(b => b is not null);

    private static List<string> Admitted(JsonElement? budget) =>
        budget is { } b ? [.. b.GetProperty("admitted").EnumerateArray().Select(a => $"({a.GetProperty("source").GetString()},{a.GetProperty("group").GetString()})")] : [];

    /// <summary>What each node's /status says of the members, for a failure message: "node1: 10.0.0.1:4053 Up, ...".</summary>
    private string MemberViews() => string.Join("; ", Enumerable.Range(0, 3).Select(n =>
        _nodes[n] is not { HasExited: false } ? $"node{n}: not running"
        : Get(n, "/status") is { } status ? $"node{n}: " + string.Join(", ", status.GetProperty("members").EnumerateArray()
            .Select(m => $"{m.GetProperty("address").GetString()} {m.GetProperty("status").GetString()}"))
        : $"node{n}: no /status"));

    private int UpMembers(int n) =>
        Get(n, "/status") is { } status ? status.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") : -1;

    private async Task<int> HolderOfBudget(TimeSpan timeout, int except = -1)
    {
        int holder = -1;
        await WaitUntil(() =>
        {
            holder = Enumerable.Range(0, 3).Where(n => n != except)
                .FirstOrDefault(n => Get(n, "/status") is { } s && s.GetProperty("holds").GetProperty("budget").GetBoolean(), -1);
            return holder >= 0;
        }, timeout, "a node holding the budget singleton");
        return holder;
    }

    /// <summary>The budget's events, read back from PostgreSQL and decoded with the node's own serializer.</summary>
    private async Task<List<(long Sequence, object Event)>> JournalEvents()
    {
        using var system = (ExtendedActorSystem)ActorSystem.Create("journal-reader", ConfigurationFactory.Empty);
        var serializer = new BudgetSerializer(system);
        var events = new List<(long, object)>();
        await using var connection = new NpgsqlConnection(_postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT sequence_number, manifest, message FROM journal WHERE persistence_id = @id ORDER BY sequence_number", connection);
        command.Parameters.AddWithValue("id", BandwidthBudgetActor.PersistenceIdValue);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            events.Add((reader.GetInt64(0), serializer.FromBinary((byte[])reader[2], reader.GetString(1))));
        }
        return events;
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {timeout}");
            }
            await Task.Delay(200);
        }
    }
}
