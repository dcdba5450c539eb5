using System.Globalization;
using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// The three-node failover lab (<see cref="ClusterTopology"/>), built once for <see cref="FailoverTests"/>: FRR, bind9,
/// the lab relay, twelve sources (six with receivers from the start, six for the burst test) and three ingest nodes.
/// Measurements go to <see cref="Report"/>, which the tests print and docs/benchmarks.md quotes.
/// </summary>
public sealed class FailoverLab : IAsyncLifetime
{
    public const int Rate = 100;
    public const int InitialFlows = 6;

    private readonly Dictionary<int, LabProcess> _receivers = [];
    private readonly List<LabProcess> _nodeProcesses = [];
    private int _intendedExits;

    public ClusterTopology Topology { get; private set; } = null!;

    public List<string> Report { get; } = [];

    public async Task InitializeAsync()
    {
        if (!KernelSupport.MulticastRouting)
        {
            return; // every test of this lab needs a receiver behind FRR: each one skips, naming the reason
        }
        Topology = await ClusterTopology.Create("icfo");
        var relay = Topology.StartLab("rly", "relay", "relay", "--listen", ClusterTopology.Relay, "--upstream-interface", "b0",
            "--qqic", "20", "--qrv", "2", "--status-interval", "5s");
        await relay.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        for (int i = 0; i < ClusterTopology.Sources; i++)
        {
            Topology.StartSource(i, Rate);
        }
        for (int n = 1; n <= 3; n++)
        {
            _nodeProcesses.Add(Topology.StartNode(n));
        }
        await WaitForThreeMembers(TimeSpan.FromSeconds(90));
        for (int i = 0; i < InitialFlows; i++)
        {
            StartReceiver(i);
        }
        await WaitUntil(() => Enumerable.Range(0, InitialFlows).All(Receiving), TimeSpan.FromSeconds(60), "every receiver getting its stream");
    }

    public async Task DisposeAsync()
    {
        // A node that exited without a test killing it was downed falsely (a pause mistaken for a crash).
        int exited = _nodeProcesses.Count(p => p.HasExited);
        Note($"false downings: {exited - _intendedExits} node exit(s) no test caused, over {_nodeProcesses.Count} node runs");
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, "failover-report.txt"), Report);
        if (Topology is not null)
        {
            await Topology.DisposeAsync();
        }
    }

    public void StartReceiver(int i) => _receivers[i] = Topology.StartReceiver(i);

    public bool HasReceiver(int i) => _receivers.ContainsKey(i);

    public IEnumerable<JsonElement> ReceiverEvents(int i, string name) =>
        _receivers[i].Lines().Select(TryParse).OfType<JsonElement>()
            .Where(e => e.TryGetProperty("event", out var ev) && ev.GetString() == name);

    /// <summary>Whether receiver i got packets in its last status interval.</summary>
    public bool Receiving(int i) =>
        ReceiverEvents(i, "status").LastOrDefault() is { ValueKind: JsonValueKind.Object } last
        && last.GetProperty("receivedSinceLastStatus").GetInt64() > 0;

    public long ReceiverCounter(int i, string name) =>
        ReceiverEvents(i, "status").LastOrDefault() is { ValueKind: JsonValueKind.Object } last ? last.GetProperty(name).GetInt64() : 0;

    /// <summary>The gaps receiver i reported that ended after <paramref name="sinceUnixMs"/>.</summary>
    public IReadOnlyList<(double GapMs, long Missing, long ResumedAtUnixMs)> GapsSince(int i, long sinceUnixMs) =>
        [.. ReceiverEvents(i, "gap")
            .Select(g => (g.GetProperty("gapMs").GetDouble(), g.GetProperty("missing").GetInt64(), g.GetProperty("resumedAtUnixMs").GetInt64()))
            .Where(g => g.Item3 > sinceUnixMs)];

    public JsonDocument? Status(int node) =>
        Topology.NodeStatus(node) is { } text ? JsonDocument.Parse(text) : null;

    /// <summary>The node (1-3) hosting source i, from the first live node's /status.</summary>
    public int? HostOf(int i)
    {
        if (TunnellingHosts()?.GetValueOrDefault(ClusterTopology.Source(i)) is not { } node)
        {
            return null;
        }
        for (int k = 1; k <= 3; k++)
        {
            if (node == ClusterTopology.NodeAddress(k))
            {
                return k;
            }
        }
        return null;
    }

    /// <summary>Source address to the cluster address of the node its entity tunnels from, for every source in the
    /// Tunnelling state, from the first live node that answers /status; null when none answers.</summary>
    private Dictionary<string, string>? TunnellingHosts()
    {
        foreach (var n in LiveNodes())
        {
            using var status = Status(n);
            if (status is null)
            {
                continue;
            }
            var hosts = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var s in status.RootElement.GetProperty("sources").EnumerateArray())
            {
                if (s.GetProperty("state").GetString() == "Tunnelling")
                {
                    hosts[s.GetProperty("source").GetString() ?? ""] = s.GetProperty("node").GetString() ?? "";
                }
            }
            return hosts;
        }
        return null;
    }

    /// <summary>Packets of each flow as node n's <c>/api/flows</c> gives them ("source,group" to packets; null where it
    /// shows no counter), and the node it says hosts the flow.</summary>
    public Dictionary<string, (long? Packets, string? Node)> FlowCounters(int n)
    {
        var result = new Dictionary<string, (long?, string?)>(StringComparer.Ordinal);
        if (Topology.NodeApi(n, "/api/flows") is not { } text)
        {
            return result;
        }
        using var flows = JsonDocument.Parse(text);
        foreach (var f in flows.RootElement.GetProperty("flows").EnumerateArray())
        {
            long? packets = f.GetProperty("packets").ValueKind == JsonValueKind.Number ? f.GetProperty("packets").GetInt64() : null;
            result[$"{f.GetProperty("source").GetString()},{f.GetProperty("group").GetString()}"] = (packets, f.GetProperty("node").GetString());
        }
        return result;
    }

    /// <summary>The node whose /status says it holds the thing: "budget" or the cluster address.</summary>
    public int? Holder(string what)
    {
        foreach (var n in LiveNodes())
        {
            using var status = Status(n);
            var holds = status?.RootElement.GetProperty("holds");
            if (holds is { } h && (what == "budget"
                    ? h.GetProperty("budget").GetBoolean()
                    : h.GetProperty("clusterAddresses").EnumerateArray().Any(a => a.GetString() == what)))
            {
                return n;
            }
        }
        return null;
    }

    public IEnumerable<int> LiveNodes() => Enumerable.Range(1, 3).Where(n => !Topology.Node(n).HasExited);

    public int UpMembers(int node)
    {
        using var status = Status(node);
        return status?.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") ?? 0;
    }

    public IReadOnlyList<string> Admitted(int node)
    {
        using var status = Status(node);
        if (status?.RootElement.GetProperty("budget") is { } budget && budget.TryGetProperty("admitted", out var admitted))
        {
            return [.. admitted.EnumerateArray().Select(f => $"{f.GetProperty("source").GetString()},{f.GetProperty("group").GetString()}")];
        }
        return [];
    }

    /// <summary>Longer than the shard rebalance interval (10 s in cluster.conf): a host map unchanged for this long
    /// has seen a rebalance round that moved nothing.</summary>
    public static readonly TimeSpan SettledFor = TimeSpan.FromSeconds(12);

    /// <summary>
    /// Brings the lab to a settled cluster before a test acts on it. A node that is not running is started again (a
    /// failed test may have left one down, and the next test would then fail for that alone); then every node must see
    /// three members Up, and the node hosting each received flow must not change, for <see cref="SettledFor"/>. After a
    /// restart the coordinator moves shards to the new member over several rebalance rounds; a test that picks the
    /// host of a flow while its shard is moving kills a node the flow has already left, and finds no outage to measure.
    /// </summary>
    public async Task Settle()
    {
        for (int n = 1; n <= 3; n++)
        {
            if (Topology.Node(n).HasExited)
            {
                Note($"settle: node {n} was not running at the start of a test; started again");
                _intendedExits++;
                _nodeProcesses.Add(Topology.StartNode(n));
            }
        }
        var steady = System.Diagnostics.Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        string? last = null;
        while (steady.Elapsed <= SettledFor)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"three members up and every flow on the same node for {SettledFor.TotalSeconds} s: not within 120 s (last hosts: {last})");
            }
            string? hosts = HostMap();
            if (!Enumerable.Range(1, 3).All(n => !Topology.Node(n).HasExited && UpMembers(n) == 3) || hosts is null || hosts != last)
            {
                steady.Restart();
            }
            last = hosts;
            await Task.Delay(500);
        }
    }

    /// <summary>"flow=node" for every flow with a receiver, from one /status; null while any of them has no host.</summary>
    private string? HostMap()
    {
        if (TunnellingHosts() is not { } hostOf)
        {
            return null;
        }
        var parts = new List<string>();
        foreach (int i in _receivers.Keys.Order())
        {
            if (!hostOf.TryGetValue(ClusterTopology.Source(i), out var node))
            {
                return null;
            }
            parts.Add($"{i}={node}");
        }
        return string.Join(' ', parts);
    }

    public async Task WaitForThreeMembers(TimeSpan timeout) =>
        await WaitUntil(() => Enumerable.Range(1, 3).All(n => !Topology.Node(n).HasExited && UpMembers(n) == 3), timeout, "three members up on every node");

    /// <summary>Restarts node n (same address) and waits until the cluster has three members again.</summary>
    public async Task Restart(int node)
    {
        if (!Topology.Node(node).HasExited)
        {
            await Topology.Node(node).Stop(TimeSpan.FromSeconds(20));
        }
        _intendedExits++;
        _nodeProcesses.Add(Topology.StartNode(node));
        await WaitForThreeMembers(TimeSpan.FromSeconds(90));
    }

    /// <summary>When node n first logged a line matching <paramref name="match"/> after <paramref name="sinceUnixMs"/>
    /// (its console lines start with HH:mm:ss.fff, UTC here), as Unix ms; null if it has not.</summary>
    public long? LoggedAfter(int node, long sinceUnixMs, Func<string, bool> match)
    {
        var day = DateTimeOffset.FromUnixTimeMilliseconds(sinceUnixMs).UtcDateTime.Date;
        foreach (var line in Topology.Node(node).Lines())
        {
            if (line.Length < 13 || !TimeSpan.TryParseExact(line[..12], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture, out var time))
            {
                continue;
            }
            long at = new DateTimeOffset(day + time, TimeSpan.Zero).ToUnixTimeMilliseconds();
            if (at >= sinceUnixMs && match(line))
            {
                return at;
            }
        }
        return null;
    }

    public static long NowUnixMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public void Note(string line)
    {
        lock (Report)
        {
            Report.Add(line);
        }
    }

    public static string Ms(double ms) => ms.ToString("F0", CultureInfo.InvariantCulture);

    public static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
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

    private static JsonElement? TryParse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
