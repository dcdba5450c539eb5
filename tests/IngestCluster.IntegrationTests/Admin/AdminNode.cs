using System.Globalization;
using Akka.Actor;
using IngestCluster.Cli;
using IngestCluster.Node.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>
/// A whole node as Program.cs runs it (<see cref="NodeHost"/>: the real stages, the admin API on a real HTTP port), in
/// this test process, on loopback ports, with demand off. Tests drive it with ingestctl's own code
/// (<see cref="Ctl"/>) over real HTTP.
/// </summary>
public sealed class AdminNode : IAsyncDisposable
{
    private readonly NodeApplication _node;
    private readonly Task _run;
    private bool _disposed;

    private AdminNode(NodeApplication node, Task run, int clusterPort, int adminPort, string dataDirectory)
    {
        _node = node;
        _run = run;
        ClusterPort = clusterPort;
        AdminPort = adminPort;
        DataDirectory = dataDirectory;
    }

    public int ClusterPort { get; }

    public int AdminPort { get; }

    public string DataDirectory { get; }

    public string AdminEndpoint => $"127.0.0.1:{AdminPort.ToString(CultureInfo.InvariantCulture)}";

    public string Address => $"akka.tcp://ingest@127.0.0.1:{ClusterPort.ToString(CultureInfo.InvariantCulture)}";

    public IServiceProvider Services => _node.Services;

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(_node.Services.GetRequiredService<ActorSystem>());

    /// <summary>A one-node cluster whose demand is the joinfile <paramref name="joinfileText"/> (written into
    /// <paramref name="dataDirectory"/>) under a 10 Mbit/s limit, every flow sized at the 4 Mbit/s default (no DORMS):
    /// the budget tests' and the metrics test's node.</summary>
    public static async Task<AdminNode> StartBudgeted(string dataDirectory, string joinfileText)
    {
        string joinfile = JoinfileIn(dataDirectory);
        await File.WriteAllTextAsync(joinfile, joinfileText);
        return await Start(dataDirectory, [], IngestCluster.IntegrationTests.Cluster.InProcessNode.FreePort(), IngestCluster.IntegrationTests.Cluster.InProcessNode.FreePort(), new Dictionary<string, string?>
        {
            ["Demand:Joinfile"] = joinfile,
            ["Budget:Limit"] = "10Mbps",
            ["Budget:DefaultBitrate"] = "4Mbps",
            ["Budget:Metadata:Enabled"] = "false",
            ["Budget:MetadataWait"] = "0s",
        });
    }

    /// <summary>Where <see cref="StartBudgeted"/> writes its joinfile.</summary>
    public static string JoinfileIn(string dataDirectory) => Path.Combine(dataDirectory, "joinfile.csv");

    public static async Task<AdminNode> Start(string dataDirectory, IReadOnlyList<int> seedPorts, int clusterPort, int adminPort,
        IReadOnlyDictionary<string, string?>? extra = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Node:DataDirectory"] = dataDirectory,
            ["Cluster:Port"] = clusterPort.ToString(CultureInfo.InvariantCulture),
            ["Admin:Url"] = $"http://127.0.0.1:{adminPort.ToString(CultureInfo.InvariantCulture)}",
            ["Sources:Host"] = "true",
            ["Demand:Joinfile"] = "off",
        };
        for (int i = 0; i < seedPorts.Count; i++)
        {
            values[$"Cluster:SeedNodes:{i.ToString(CultureInfo.InvariantCulture)}"] = $"akka.tcp://ingest@127.0.0.1:{seedPorts[i].ToString(CultureInfo.InvariantCulture)}";
        }
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            values[k] = v;
        }
        var node = NodeHost.Build([], values);
        node.Services.GetRequiredService<IngestCluster.Node.Admin.LogLevelSwitch>().Set(Microsoft.Extensions.Logging.LogLevel.Warning);
        // Run as Program.cs does: the node stops itself when its actor system ends (a cluster leave, a downing).
        var lifetime = node.Services.GetRequiredService<IHostApplicationLifetime>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        var run = Task.Run(() => node.App.RunAsync());
        var first = await Task.WhenAny(started.Task, run, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != started.Task)
        {
            await (first == run ? run : throw new TimeoutException($"node on admin port {adminPort} did not start within 60 s"));
            throw new InvalidOperationException("the node stopped while starting");
        }
        return new AdminNode(node, run, clusterPort, adminPort, dataDirectory);
    }

    /// <summary>Runs ingestctl with <paramref name="args"/>; its exit code, standard output and standard error.</summary>
    public static Task<(int Exit, string Out, string Error)> Ctl(params string[] args) => CapturedRun.RunAsync(args, _ => null);

    /// <summary>A plain HTTP client on the node's admin API, for requests ingestctl would never send.</summary>
    public HttpClient Http() => new() { BaseAddress = new Uri($"http://{AdminEndpoint}"), Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Whether the node has stopped (by itself, or by <see cref="Stop"/>).</summary>
    public bool Stopped => _run.IsCompleted;

    /// <summary>A graceful stop, as on SIGTERM: CoordinatedShutdown leaves the cluster, then the web host stops.</summary>
    public async Task Stop()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_run.IsCompleted)
        {
            try
            {
                _node.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            }
            catch (ObjectDisposedException)
            {
                // It stopped by itself (RunAsync disposes the host) between the check and the call.
            }
        }
        if (await Task.WhenAny(_run, Task.Delay(TimeSpan.FromSeconds(45))) != _run)
        {
            throw new TimeoutException($"node on admin port {AdminPort} did not stop within 45 s");
        }
        await _run; // RunAsync has disposed the host; the node's egress, if any, goes here:
        await _node.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await Stop();
}
