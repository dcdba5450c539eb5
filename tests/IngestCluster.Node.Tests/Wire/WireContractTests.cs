using System.Collections.Immutable;
using System.Net;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Akka.Serialization;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Hosting.Wire;
using IngestCluster.Node.Sources;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Tests.Wire;

/// <summary>
/// The wire contract, pinned: every message that crosses nodes and every persisted event has a golden manifest and
/// golden bytes here. A change that alters either breaks journal replay and rolling upgrades, so it must fail this
/// test and come with a new manifest (or format version) instead.
/// </summary>
public sealed class WireContractTests : IDisposable
{
    private static readonly IPAddress S = IPAddress.Parse("198.51.100.12");
    private static readonly IPAddress G = IPAddress.Parse("232.1.1.1");
    private static readonly SourceGroup Flow = new(S, G);
    private static readonly SourceGroup Flow6 = new(IPAddress.Parse("2001:db8::5"), IPAddress.Parse("ff3e::8000:1"));
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_780_000_000_123);

    private readonly ExtendedActorSystem _system = (ExtendedActorSystem)ActorSystem.Create("wire", ConfigurationFactory.Empty);
    private readonly NodeMetrics _metrics = new();

    public void Dispose() => _system.Dispose();

    /// <summary>(message, manifest, hex of the bytes).</summary>
    public static TheoryData<string, string, string> Golden() => new()
    {
        { "DemandChanged", "dc", "01026f6104c633640c04e801010101" },
        { "DemandSnapshot", "ds", "01026f610204c633640c04e80101011020010db800000000000000000000000510ff3e0000000000000000000080000001" },
        { "GetAdmitted", "ga", "01" },
        { "AdmittedFlows", "af", "010104c633640c04e801010102026e31026e32" },
        { "SourceHandedOff", "sh", "0104c633640c" },
        { "FlowAdmitted", "e.fa", "0104c633640c04e8010101f6a1a484ce6780c8d0078090a10f" },
        { "FlowReleased", "e.fr", "0104c633640c04e8010101f6a1a484ce6702" },
        { "BudgetSnapshot", "s.b", "010104c633640c04e8010101f6a1a484ce670000" },
        { "EnsureGroups", "eg", "0104c633640c0204e801010104e8010102" },
        { "GetSourceStatus", "gs", "0104c633640c" },
        { "SourceStatus", "ss", "010d3139382e35312e3130302e31320654756e6e656c010d31302e302e302e313a3232363802757001093233322e312e312e310000" },
    };

    private static object Sample(string name) => name switch
    {
        "DemandChanged" => new DemandProtocol.DemandChanged("oa", Flow, Joined: true),
        "DemandSnapshot" => new DemandProtocol.DemandSnapshot("oa", [Flow, Flow6]),
        "GetAdmitted" => BudgetProtocol.GetAdmitted.Instance,
        "AdmittedFlows" => new BudgetProtocol.AdmittedFlows([Flow], ["n1", "n2"]),
        "SourceHandedOff" => new BudgetProtocol.SourceHandedOff(S),
        "FlowAdmitted" => new BudgetEvents.FlowAdmitted(Flow, At, 8_000_000, 16_000_000),
        "FlowReleased" => new BudgetEvents.FlowReleased(Flow, At, ReleaseReason.Unclaimed),
        "BudgetSnapshot" => new BudgetEvents.BudgetSnapshot([new BudgetEvents.FlowAdmitted(Flow, At)]),
        "EnsureGroups" => new SourceProtocol.EnsureGroups(S, [G, IPAddress.Parse("232.1.1.2")]),
        "GetSourceStatus" => new SourceProtocol.GetSourceStatus(S),
        "SourceStatus" => new SourceProtocol.SourceStatus("198.51.100.12", "Tunnel", "10.0.0.1:2268", "up", ["232.1.1.1"], []),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private IReadOnlyList<WireSerializer> Serializers() =>
        [new DemandSerializer(_system, _metrics), new BudgetSerializer(_system, _metrics), new SourceSerializer(_system, _metrics)];

    private WireSerializer SerializerFor(object message) =>
        Serializers().Single(s => s.Types.Any(t => t.Type == message.GetType()));

    [Theory]
    [MemberData(nameof(Golden))]
    public void Each_message_has_its_golden_manifest_and_bytes_and_reads_back_to_the_same_bytes(string name, string manifest, string hex)
    {
        var message = Sample(name);
        var serializer = SerializerFor(message);
        byte[] bytes = serializer.ToBinary(message);

        Assert.Equal(manifest, serializer.Manifest(message));
        Assert.Equal(hex, Convert.ToHexStringLower(bytes));
        var back = serializer.FromBinary(bytes, manifest);
        Assert.IsType(message.GetType(), back);
        Assert.Equal(bytes, serializer.ToBinary(back));
    }

    [Fact]
    public void Every_wire_type_has_a_golden_entry()
    {
        var golden = Golden().Select(row => (string)row[1]).ToHashSet();
        var carried = Serializers().SelectMany(s => s.Types).Select(t => t.Manifest).ToList();
        Assert.Equal(carried.Count, carried.Distinct().Count());
        Assert.Empty(carried.Except(golden));
    }

    [Fact]
    public void Round_trips_keep_every_field()
    {
        var snapshot = (DemandProtocol.DemandSnapshot)RoundTrip(Sample("DemandSnapshot"));
        Assert.Equal("oa", snapshot.Origin);
        Assert.Equal<SourceGroup>([Flow, Flow6], snapshot.Flows);

        var admitted = (BudgetEvents.FlowAdmitted)RoundTrip(Sample("FlowAdmitted"));
        Assert.Equal(new BudgetEvents.FlowAdmitted(Flow, At, 8_000_000, 16_000_000), admitted);

        var status = (SourceProtocol.SourceStatus)RoundTrip(Sample("SourceStatus"));
        Assert.Equal(("198.51.100.12", "Tunnel", "10.0.0.1:2268", "up"), (status.Source, status.State, status.Relay, status.Detail));
        Assert.Equal<string>(["232.1.1.1"], status.Groups);
        Assert.Null(((SourceProtocol.SourceStatus)RoundTrip(new SourceProtocol.SourceStatus("s", "Idle", null, "", [], []))).Relay);

        var ensure = (SourceProtocol.EnsureGroups)RoundTrip(Sample("EnsureGroups"));
        Assert.Equal(S, ensure.Source);
        Assert.Equal<IPAddress>([G, IPAddress.Parse("232.1.1.2")], ensure.Groups);
    }

    [Theory]
    [InlineData("dc", "")]                                     // nothing at all
    [InlineData("dc", "02026f6104c633640c04e801010101")]       // another format version
    [InlineData("dc", "01026f6104c633640c04e8010101")]         // truncated
    [InlineData("dc", "01026f6104c633640c04e80101010100")]     // bytes left over
    [InlineData("dc", "01026f6105c633640c04e801010101")]       // an address of 5 bytes
    [InlineData("dc", "01026f6104c633640c04e801010102")]       // a boolean of 2
    [InlineData("ds", "0102ff6100")]                           // a string that is not UTF-8
    [InlineData("ds", "01026f61ffffffff0f")]                   // a count over the limit
    [InlineData("e.fr", "0104c633640c04e8010101f6a1a484ce6763")] // an unknown release reason
    public void Malformed_bytes_are_refused_with_a_serialization_error_and_counted(string manifest, string hex)
    {
        var serializer = Serializers().Single(s => s.Types.Any(t => t.Manifest == manifest));
        Assert.Throws<SerializationException>(() => serializer.FromBinary(Convert.FromHexString(hex), manifest));
        Assert.Equal(1, _metrics.Total("ingest_wire_rejected_total"));
    }

    [Fact]
    public void An_unknown_manifest_from_a_newer_member_is_refused_and_counted()
    {
        var serializer = new DemandSerializer(_system, _metrics);
        Assert.Throws<SerializationException>(() => serializer.FromBinary([1], "zz"));
        Assert.Equal(1, _metrics.Value("ingest_wire_rejected_total", "serializer=\"demand\",reason=\"unknown_manifest\""));
    }

    [Fact]
    public async Task The_node_binds_every_wire_message_to_its_own_serializer_not_the_json_fallback()
    {
        using var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("bound", (akka, _) => akka.WithWireContract(new NodeMetrics())))
            .Build();
        await host.StartAsync();
        var system = (ExtendedActorSystem)host.Services.GetRequiredService<ActorSystem>();
        foreach (var row in Golden())
        {
            var message = Sample((string)row[0]);
            var serializer = system.Serialization.FindSerializerFor(message);
            Assert.IsAssignableFrom<WireSerializer>(serializer);
            Assert.Equal((string)row[1], Akka.Serialization.Serialization.ManifestFor(serializer, message));
            Assert.IsNotType<NewtonSoftJsonSerializer>(serializer);
        }
        await host.StopAsync();
    }

    private object RoundTrip(object message)
    {
        var serializer = SerializerFor(message);
        return serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
    }
}
