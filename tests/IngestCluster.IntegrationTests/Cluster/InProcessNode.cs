using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IngestCluster.IntegrationTests.Cluster;

/// <summary>
/// One ingest node's real Akka set-up (remoting on loopback, cluster, sharding, the budget singleton, persistence,
/// the wire contract) in this test process, with a recording entity in place of SourceActor so tests see which node
/// hosts which source. Each node has its own actor system, so every message between them goes over real remoting on
/// loopback, through our serializers. (<c>serialize-messages = on</c> cannot be used: Akka.NET's own distributed-data
/// ReadRepair, a local message, has no serializer and fails it.)
/// </summary>
public sealed class InProcessNode : IAsyncDisposable
{
    private readonly IHost _host;

    private InProcessNode(IHost host, int port, NodeMetrics metrics, ConcurrentQueue<SourceProtocol.EnsureGroups> received)
    {
        _host = host;
        Port = port;
        Metrics = metrics;
        Received = received;
    }

    public int Port { get; }

    public NodeMetrics Metrics { get; }

    /// <summary>What the source entities hosted here were told, in order.</summary>
    public ConcurrentQueue<SourceProtocol.EnsureGroups> Received { get; }

    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    public IActorRef Budget => Registry.Get<BandwidthBudgetActor>();

    public ActorRegistry Registry => _host.Services.GetRequiredService<ActorRegistry>();

    public string Address => $"akka.tcp://ingest@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Sources whose entity here currently has groups (the last EnsureGroups was not empty).</summary>
    public IReadOnlySet<IPAddress> HostedSources()
    {
        var last = new Dictionary<IPAddress, int>();
        foreach (var m in Received)
        {
            last[m.Source] = m.Groups.Length;
        }
        return last.Where(kv => kv.Value > 0).Select(kv => kv.Key).ToHashSet();
    }

    public static async Task<InProcessNode> Start(string dataDirectory, IReadOnlyList<int> seedPorts, int port,
        Dictionary<string, string?>? extra = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Node:DataDirectory"] = dataDirectory,
            ["Cluster:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Budget:ReconcileInterval"] = "1s",
            ["Sources:Host"] = "true",
            ["Demand:Joinfile"] = "off",
        };
        for (int i = 0; i < seedPorts.Count; i++)
        {
            values[$"Cluster:SeedNodes:{i}"] = $"akka.tcp://ingest@127.0.0.1:{seedPorts[i].ToString(CultureInfo.InvariantCulture)}";
        }
        foreach (var (k, v) in extra ?? [])
        {
            values[k] = v;
        }
        var settings = IngestSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), out var reader);
        reader.ThrowIfInvalid();
        var metrics = new NodeMetrics();
        var received = new ConcurrentQueue<SourceProtocol.EnsureGroups>();
        var host = new HostBuilder()
            .ConfigureLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning))
            .ConfigureServices(services => services.AddAkka(settings.Cluster.SystemName, (akka, _) =>
                akka.AddIngestCluster(settings, metrics, TimeProvider.System,
                        (_, _) => _ => Props.Create(() => new RecordingEntity(received)))))
            .Build();
        await host.StartAsync();
        return new InProcessNode(host, port, metrics, received);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A graceful stop: CoordinatedShutdown hands the shards off and leaves the cluster.</summary>
    public Task Stop() => _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            _host.Dispose();
        }
    }

    public static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not within {timeout}: {what()}");
            }
            await Task.Delay(50);
        }
    }

    private sealed class RecordingEntity : ReceiveActor
    {
        public RecordingEntity(ConcurrentQueue<SourceProtocol.EnsureGroups> sink)
        {
            Receive<SourceProtocol.EnsureGroups>(sink.Enqueue);
            Receive<SourceProtocol.HandOff>(_ => Context.Stop(Self));
        }
    }
}
