using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>
/// The one-node lab, built once for the end-to-end tests: namespaces, FRR pimd, bind9, our AMT relay and a
/// 100 packets/s source, and the ingest node itself, all stopped and removed when the tests are done.
/// </summary>
public sealed class SingleNodeLab : IAsyncLifetime
{
    public const string Group = "232.1.1.1";
    public const int Port = 5001;
    public const int Rate = 100;

    private int _receivers;

    public IngestTopology Topology { get; private set; } = null!;

    public LabProcess Node { get; private set; } = null!;

    public LabProcess Relay { get; private set; } = null!;

    public string Joinfile { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (!KernelSupport.MulticastRouting)
        {
            return; // every test of this lab needs a receiver behind FRR: each one skips, naming the reason
        }
        Topology = await IngestTopology.Create("ice2e");
        var lab = Topology.Lab;
        string data = Path.Combine(lab.Directory, "node-data");
        Joinfile = Path.Combine(lab.Directory, "extra-demand.csv");
        File.WriteAllText(Joinfile, "");

        Relay = Topology.StartLab("rly", "relay", "relay", "--listen", IngestTopology.Relay, "--upstream-interface", "b0",
            "--qqic", "20", "--qrv", "2", "--status-interval", "1s");
        await Relay.WaitForLine(l => l.Contains("\"started\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Topology.StartLab("src", "source", "source", "--group", Group, "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--interface", "s0", "--rate", Rate.ToString(System.Globalization.CultureInfo.InvariantCulture), "--size", "1316", "--ttl", "16");

        Node = Topology.StartNode(data,
            $"--Demand:Joinfile={Joinfile}",
            "--Demand:JoinfileDebounce=50ms",
            "--Tunnels:NoDataTimeout=4s",
            "--Tunnels:HoldDownMin=60s",
            "--Tunnels:HoldDownMax=60s",
            "--Sources:NoRelayRetry=5s",
            "--Tunnels:MaxUnansweredAttempts=3");
        await WaitUntil(() => TryStatus() is not null, TimeSpan.FromSeconds(60), "the node's admin API");
    }

    public async Task DisposeAsync()
    {
        if (Topology is not null)
        {
            await Topology.DisposeAsync();
        }
    }

    /// <summary>A receiver in <c>rcv</c> joined to (S, <see cref="Group"/>) on r0.</summary>
    public LabProcess StartReceiver(string source, params string[] extra) =>
        Topology.StartLab("rcv", $"receiver-{Interlocked.Increment(ref _receivers)}", ["receiver", "--source", source, "--group", Group,
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--interface", "r0", "--status-interval", "500ms", .. extra]);

    public JsonDocument? TryStatus()
    {
        try
        {
            return JsonDocument.Parse(Topology.NodeStatus());
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public JsonDocument Status() => TryStatus() ?? throw new InvalidOperationException("the node's /status did not answer");

    /// <summary>The status of one source, as /status shows it; null when the node shows none.</summary>
    public JsonElement? SourceStatus(string source)
    {
        using var status = Status();
        foreach (var s in status.RootElement.GetProperty("sources").EnumerateArray())
        {
            if (s.GetProperty("source").GetString() == source)
            {
                return s.Clone();
            }
        }
        return null;
    }

    /// <summary>The admitted flows as "source,group" strings, sorted.</summary>
    public IReadOnlyList<string> AdmittedFlows()
    {
        using var status = Status();
        if (status.RootElement.GetProperty("budget").TryGetProperty("admitted", out var admitted))
        {
            return [.. admitted.EnumerateArray()
                .Select(f => $"{f.GetProperty("source").GetString()},{f.GetProperty("group").GetString()}")
                .Order(StringComparer.Ordinal)];
        }
        return [];
    }

    public bool Admitted(string source) => AdmittedFlows().Contains($"{source},{Group}");

    /// <summary>Waits until the flow of <paramref name="source"/> is no longer admitted (a previous test's leave).</summary>
    public Task WaitUntilNotAdmitted(string source) =>
        WaitUntil(() => !Admitted(source), TimeSpan.FromSeconds(30), $"({source},{Group}) to be released");

    /// <summary>Whether the node's PIM listener on d0 holds a join for (source, <see cref="Group"/>).</summary>
    public bool PimJoined(string source)
    {
        using var status = Status();
        return status.RootElement.GetProperty("pim").EnumerateArray()
            .SelectMany(p => p.GetProperty("joined").EnumerateArray())
            .Any(j => j.GetProperty("source").GetString() == source && j.GetProperty("group").GetString() == Group);
    }

    public bool HasPimNeighbor(string address)
    {
        using var status = Status();
        return status.RootElement.GetProperty("pim").EnumerateArray()
            .SelectMany(p => p.GetProperty("neighbors").EnumerateArray())
            .Any(n => n.GetProperty("address").GetString() == address);
    }

    public long Counter(string name, string labels = "")
    {
        string prefix = labels.Length > 0 ? $"{name}{{{labels}}} " : $"{name} ";
        foreach (var line in Topology.NodeMetrics().Split('\n'))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return long.Parse(line[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>Whether /metrics has the series <paramref name="name"/> with exactly <paramref name="labels"/>.</summary>
    public bool HasSeries(string name, string labels)
    {
        string prefix = $"{name}{{{labels}}} ";
        return Topology.NodeMetrics().Split('\n').Any(l => l.StartsWith(prefix, StringComparison.Ordinal));
    }

    public void AddJoinfileLines(params string[] lines)
    {
        string temp = Joinfile + ".tmp";
        File.WriteAllText(temp, File.ReadAllText(Joinfile) + string.Join('\n', lines) + "\n");
        File.Move(temp, Joinfile, overwrite: true);
    }

    public static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {timeout}");
            }
            await Task.Delay(100);
        }
    }
}
