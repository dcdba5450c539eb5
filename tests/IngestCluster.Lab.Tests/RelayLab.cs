using IngestCluster.Lab.Topology;
using System.Net;

namespace IngestCluster.Lab.Tests;

/// <summary>
/// Three namespaces, shared by the relay tests of one class: source (10.203.1.1) — relay (upstream 10.203.1.2,
/// tunnels on 10.203.2.1) — gateway (10.203.2.2). The relay and the source run as real IngestCluster.Lab
/// processes; each test drives its own fake gateway socket, so each test has its own tunnel.
/// </summary>
public sealed class RelayLab : IDisposable
{
    public const string SecretHex = "00112233445566778899aabbccddeeff";
    public static readonly IPAddress Source = IPAddress.Parse("10.203.1.1");
    public static readonly IPAddress RelayUpstream = IPAddress.Parse("10.203.1.2");
    public static readonly IPAddress RelayAddress = IPAddress.Parse("10.203.2.1");
    public static readonly IPAddress GatewayAddress = IPAddress.Parse("10.203.2.2");
    public static readonly IPAddress Group = IPAddress.Parse("232.3.3.3");
    public const int Port = 5003;
    public const int SourceTtl = 16;

    private readonly LabNetwork _network = new();

    public RelayLab()
    {
        try
        {
            var source = _network.AddNamespace("src");
            var relay = _network.AddNamespace("rly");
            GatewayNamespace = _network.AddNamespace("gw");
            var (sourceIf, upstreamIf) = _network.Link(source, "10.203.1.1", relay, "10.203.1.2", "up");
            _network.Link(relay, "10.203.2.1", GatewayNamespace, "10.203.2.2", "dn");
            Relay = new LabProcess(relay, "relay", "--listen", "10.203.2.1", "--upstream-interface", upstreamIf,
                "--secret", SecretHex, "--qqic", "20", "--qrv", "2", "--status-interval", "200ms", "--gateway-fields");
            Relay.WaitFor("started", timeout: TimeSpan.FromSeconds(30));
            SourceProcess = new LabProcess(source, "source", "--group", Group.ToString(), "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--interface", sourceIf, "--rate", "200", "--size", "200", "--ttl", SourceTtl.ToString(System.Globalization.CultureInfo.InvariantCulture));
            SourceProcess.WaitFor("started", timeout: TimeSpan.FromSeconds(30));
            Gateway = new NamespaceThread(GatewayNamespace);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string GatewayNamespace { get; } = "";

    internal LabProcess Relay { get; } = null!;

    internal LabProcess SourceProcess { get; } = null!;

    internal NamespaceThread Gateway { get; } = null!;

    public static byte[] Secret => Convert.FromHexString(SecretHex);

    internal FakeGateway NewGateway() => new(Gateway, GatewayAddress, new IPEndPoint(RelayAddress, 2268));

    public void Dispose()
    {
        Gateway?.Dispose();
        SourceProcess?.Dispose();
        Relay?.Dispose();
        _network.Dispose();
    }
}
