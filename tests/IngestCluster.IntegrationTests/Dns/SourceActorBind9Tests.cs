using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Node.Tunnels;

namespace IngestCluster.IntegrationTests.Dns;

/// <summary>A SourceActor with the real DriadResolver against bind9: from EnsureGroups to the tunnel it starts.</summary>
public sealed class SourceActorBind9Tests(Bind9DriadFixture bind) : IClassFixture<Bind9DriadFixture>, IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("dns-source-test", "akka.loglevel = WARNING");
    private readonly BlockingCollection<(TunnelProtocol.TunnelTarget Target, object Message)> _tunnelLog = [];

    /// <summary>Stands in for the AmtTunnelActor: notes its target and every message it gets.</summary>
    private sealed class RecordingTunnel : ReceiveActor
    {
        public RecordingTunnel(TunnelProtocol.TunnelTarget target, BlockingCollection<(TunnelProtocol.TunnelTarget, object)> log)
        {
            log.Add((target, "started"));
            ReceiveAny(m => log.Add((target, m)));
        }
    }

    private IActorRef Source(string address)
    {
        var resolver = new DriadResolver(
            new DriadResolverOptions { NameServers = [bind.Server.EndPoint], Timeout = TimeSpan.FromSeconds(2), Retries = 1 },
            new NodeMetrics(),
            TimeProvider.System);
        var deps = new SourceActorDependencies(
            resolver,
            target => Props.Create(() => new RecordingTunnel(target, _tunnelLog)),
            new SourceSettings(),
            new NodeMetrics(),
            TimeProvider.System,
            UnderSharding: false,
            RandomFactory: () => new Random(1));
        return _system.ActorOf(SourceActor.Props(IPAddress.Parse(address), deps));
    }

    private (TunnelProtocol.TunnelTarget Target, object Message) NextTunnelEvent()
    {
        Assert.True(_tunnelLog.TryTake(out var item, TimeSpan.FromSeconds(10)), "no tunnel event within 10 s");
        return item;
    }

    private static async Task<SourceProtocol.SourceStatus> AwaitStatus(IActorRef source, IPAddress address, Func<SourceProtocol.SourceStatus, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        SourceProtocol.SourceStatus status;
        do
        {
            status = await source.Ask<SourceProtocol.SourceStatus>(new SourceProtocol.GetSourceStatus(address), TimeSpan.FromSeconds(3));
            if (condition(status))
            {
                return status;
            }
            await Task.Delay(20);
        }
        while (DateTime.UtcNow < deadline);
        return status;
    }

    [Fact]
    public async Task A_source_with_records_gets_a_tunnel_to_its_lowest_precedence_relay()
    {
        var address = IPAddress.Parse("198.51.100.12");
        var source = Source("198.51.100.12");
        source.Tell(new SourceProtocol.EnsureGroups(address, [IPAddress.Parse("232.1.1.1")]));

        var started = NextTunnelEvent();
        Assert.Equal("started", started.Message);
        Assert.Equal(new TunnelProtocol.TunnelTarget(address, new IPEndPoint(IPAddress.Parse("203.0.113.15"), 2268), false), started.Target);
        var groups = Assert.IsType<TunnelProtocol.SetGroups>(NextTunnelEvent().Message);
        Assert.Equal([IPAddress.Parse("232.1.1.1")], groups.Groups.ToArray());

        var status = await AwaitStatus(source, address, s => s.State == "Tunnelling");
        Assert.Equal("203.0.113.15:2268", status.Relay);
    }

    [Fact]
    public async Task A_source_without_a_record_reports_it_and_starts_no_tunnel()
    {
        var address = IPAddress.Parse("198.51.100.14");
        var source = Source("198.51.100.14");
        source.Tell(new SourceProtocol.EnsureGroups(address, [IPAddress.Parse("232.1.1.1")]));
        var status = await AwaitStatus(source, address, s => s.State == "NoRelay");
        Assert.Equal("NoRelay", status.State);
        Assert.Equal("no AMTRELAY record for 198.51.100.14", status.Detail);
        Assert.Empty(_tunnelLog);
    }

    [Fact]
    public async Task A_type_0_source_reports_no_relay()
    {
        var address = IPAddress.Parse("198.51.100.13");
        var source = Source("198.51.100.13");
        source.Tell(new SourceProtocol.EnsureGroups(address, [IPAddress.Parse("232.1.1.1")]));
        var status = await AwaitStatus(source, address, s => s.State == "NoRelay");
        Assert.Equal("type 0: no relay", status.Detail);
        Assert.Empty(_tunnelLog);
    }

    public void Dispose()
    {
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
        _system.Dispose();
        _tunnelLog.Dispose();
    }
}
