using System.Globalization;
using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// A node configured with another actor system name, pointed at a running cluster's seed, is refused: Akka ignores
/// the seed's answer, so the stranger never becomes a member; it counts and logs the refusal with the setting to fix,
/// and the cluster carries on as it was. Two real node processes on loopback.
/// </summary>
public sealed class ForeignMemberTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ingest-foreign-").FullName;
    private readonly List<LabProcess> _processes = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }
        _http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_node_with_another_system_name_is_refused_counted_and_the_cluster_carries_on()
    {
        int seedPort = InProcessNode.FreePort();
        int strangerPort = InProcessNode.FreePort();
        int seedAdmin = InProcessNode.FreePort();
        int strangerAdmin = InProcessNode.FreePort();
        string seed = $"akka.tcp://ingest@127.0.0.1:{P(seedPort)}";
        var cluster = Start("seed", seedPort, seedAdmin, seed);
        await WaitUntil(async () => await UpMembers(seedAdmin) == 1, TimeSpan.FromSeconds(60), "the one-node cluster up");

        var stranger = Start("stranger", strangerPort, strangerAdmin, seed, "--Cluster:SystemName=other");
        await WaitUntil(async () => await Refusals(strangerAdmin) >= 1, TimeSpan.FromSeconds(60), "the stranger counting its refusal");
        await stranger.WaitForLine(l => l.Contains("cluster.join_refused", StringComparison.Ordinal)
            && l.Contains("Cluster:SystemName", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        // For the next 10 s (five of Akka's 2 s join retries) the cluster keeps its one member and the stranger is in
        // no cluster: checked all along, failing at the first sign of a join.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            Assert.Equal(1, await UpMembers(seedAdmin));
            Assert.Equal(0, await UpMembers(strangerAdmin));
            await Task.Delay(500);
        }
        using var ready = await _http.GetAsync($"http://127.0.0.1:{P(seedAdmin)}/ready");
        Assert.True(ready.IsSuccessStatusCode, $"the cluster's node is not ready: {(int)ready.StatusCode}");
        Assert.False(cluster.HasExited);
        Assert.False(stranger.HasExited, "the stranger exited instead of staying up and saying why");
        Assert.DoesNotContain(cluster.Lines(), l => l.Contains("other@", StringComparison.Ordinal) && l.Contains("Welcome", StringComparison.Ordinal));
    }

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private LabProcess Start(string name, int port, int admin, string seed, params string[] extra)
    {
        var process = LabProcess.Start(name, _directory, "dotnet",
        [
            IngestTopology.Program("IngestCluster.Node"),
            $"--Node:DataDirectory={Path.Combine(_directory, name)}",
            $"--Cluster:Port={P(port)}",
            $"--Cluster:SeedNodes:0={seed}",
            $"--Admin:Url=http://127.0.0.1:{P(admin)}",
            $"--Persistence:ConnectionString=Data Source={Path.Combine(_directory, $"{name}.db")}",
            "--Demand:Joinfile=off",
            .. extra,
        ]);
        _processes.Add(process);
        return process;
    }

    private async Task<int> UpMembers(int admin)
    {
        try
        {
            using var status = JsonDocument.Parse(await _http.GetStringAsync($"http://127.0.0.1:{P(admin)}/status"));
            return status.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return -1;
        }
    }

    private async Task<long> Refusals(int admin)
    {
        try
        {
            string metrics = await _http.GetStringAsync($"http://127.0.0.1:{P(admin)}/metrics");
            const string series = "ingest_cluster_join_refused_total{reason=\"system_name\"} ";
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(series, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[series.Length..], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return -1;
        }
    }

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
            await Task.Delay(200);
        }
    }
}
