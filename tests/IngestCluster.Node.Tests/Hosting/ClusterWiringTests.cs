using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Protocols;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IngestCluster.Node.Tests.Hosting;

/// <summary>
/// Starts the real Akka set-up (a self-joined one-node cluster, the budget singleton persisted to SQLite, the
/// source shard region) with a recording entity in place of SourceActor, and checks the demand → budget →
/// sources path and that a restarted node recovers its admitted flows from the journal.
/// </summary>
public sealed class ClusterWiringTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("ingest-wiring-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public async Task Demand_reaches_the_source_entity_and_a_restarted_node_recovers_its_admitted_flows()
    {
        var flow = new SourceGroup(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"));
        var received = Channel.CreateUnbounded<SourceProtocol.EnsureGroups>();

        using (var host = await StartHost(received.Writer))
        {
            var budget = host.Services.GetRequiredService<ActorRegistry>().Get<BandwidthBudgetActor>();
            budget.Tell(new DemandProtocol.DemandChanged("test/joinfile", flow, Joined: true));

            var ensure = await NextFor(received.Reader, flow.Source, groups => groups.Length == 1);
            Assert.Equal(flow.Group, Assert.Single(ensure.Groups));
            await host.StopAsync();
        }

        var afterRestart = Channel.CreateUnbounded<SourceProtocol.EnsureGroups>();
        using (var host = await StartHost(afterRestart.Writer))
        {
            // No demand is sent this time: the flow comes back from the journal, on the first reconcile tick.
            var ensure = await NextFor(afterRestart.Reader, flow.Source, groups => groups.Length == 1);
            Assert.Equal(flow.Group, Assert.Single(ensure.Groups));

            var admitted = await host.Services.GetRequiredService<ActorRegistry>().Get<BandwidthBudgetActor>()
                .Ask<BudgetProtocol.AdmittedFlows>(BudgetProtocol.GetAdmitted.Instance, TimeSpan.FromSeconds(10));
            Assert.Equal(flow, Assert.Single(admitted.Flows));
            await host.StopAsync();
        }
    }

    private async Task<IHost> StartHost(ChannelWriter<SourceProtocol.EnsureGroups> sink)
    {
        int port = FreeTcpPort();
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Node:DataDirectory"] = _dataDirectory,
            ["Cluster:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Budget:ReconcileInterval"] = "200ms",
        }).Build();
        var settings = IngestSettings.Read(config, out var reader);
        reader.ThrowIfInvalid();

        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka(settings.Cluster.SystemName, (akka, _) =>
                akka.AddIngestCluster(settings, new NodeMetrics(), TimeProvider.System,
                    (_, _) => _ => Props.Create(() => new RecordingEntity(sink)))))
            .Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<SourceProtocol.EnsureGroups> NextFor(
        ChannelReader<SourceProtocol.EnsureGroups> reader, IPAddress source, Func<System.Collections.Immutable.ImmutableArray<IPAddress>, bool> match)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var message = await reader.ReadAsync(deadline.Token);
            if (message.Source.Equals(source) && match(message.Groups))
            {
                return message;
            }
        }
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class RecordingEntity : ReceiveActor
    {
        public RecordingEntity(ChannelWriter<SourceProtocol.EnsureGroups> sink) =>
            Receive<SourceProtocol.EnsureGroups>(m => sink.TryWrite(m));
    }
}
