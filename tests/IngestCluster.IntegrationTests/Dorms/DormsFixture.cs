using System.Net;
using System.Security.Cryptography.X509Certificates;
using IngestCluster.IntegrationTests.Dns;
using IngestCluster.Lab;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Driad;

namespace IngestCluster.IntegrationTests.Dorms;

/// <summary>
/// Three lab DORMS servers on 127.0.0.1 and a bind9 that serves their <c>_dorms._tcp</c> SRV records under
/// 100.51.198.in-addr.arpa, with the target names in example.net:
/// <list type="bullet">
/// <item><c>dorms.example.net</c>, certificate from the CA the client trusts (<see cref="CaBundle"/>), Cache-Control
/// max-age 120 s: the good flows in both shapes, and one misbehaving flow per misbehaviour, all for source .12.</item>
/// <item><c>wrongca.example.net</c>, certificate from a CA the client does not trust: source .20.</item>
/// <item><c>xrd.example.net</c>, host-meta in XRD only, RESTCONF root <c>/api/restconf</c>, address TTL 200 s: source .30.</item>
/// </list>
/// Source 2001:db8::4 (under 8.b.d.0.1.0.0.2.ip6.arpa) is on dorms too. Source .40 has two SRV targets: wrongca first (priority 0), then dorms (priority 10). Source .14 has no SRV
/// record. The zone's SRV TTL is 300 s and its negative TTL (SOA minimum) 60 s.
/// </summary>
public sealed class DormsFixture : IAsyncLifetime
{
    public static readonly IPAddress Source = IPAddress.Parse("198.51.100.12");
    public static readonly IPAddress WrongCaSource = IPAddress.Parse("198.51.100.20");
    public static readonly IPAddress XrdSource = IPAddress.Parse("198.51.100.30");
    public static readonly IPAddress FailoverSource = IPAddress.Parse("198.51.100.40");
    public static readonly IPAddress SourceWithoutSrv = IPAddress.Parse("198.51.100.14");
    public static readonly IPAddress Ipv6Source = IPAddress.Parse("2001:db8::4");

    public static readonly SourceGroup Good = Flow(Source, "232.1.1.1");
    public static readonly SourceGroup GoodOlder = Flow(Source, "232.1.1.9");
    public static readonly SourceGroup Garbage = Flow(Source, "232.1.1.2");
    public static readonly SourceGroup Status500 = Flow(Source, "232.1.1.3");
    public static readonly SourceGroup RedirectLoop = Flow(Source, "232.1.1.4");
    public static readonly SourceGroup Slow = Flow(Source, "232.1.1.5");
    public static readonly SourceGroup Endless = Flow(Source, "232.1.1.6");
    public static readonly SourceGroup Unknown = Flow(Source, "232.1.1.7");
    public static readonly SourceGroup OnWrongCa = Flow(WrongCaSource, "232.1.1.1");
    public static readonly SourceGroup OnXrd = Flow(XrdSource, "232.2.2.2");
    public static readonly SourceGroup OnFailover = Flow(FailoverSource, "232.1.1.1");
    public static readonly SourceGroup WithoutSrv = Flow(SourceWithoutSrv, "232.1.1.1");
    public static readonly SourceGroup Ipv6 = Flow(Ipv6Source, "ff3e::8000:1");

    private readonly List<X509Certificate2> _certificates = [];
    private string _directory = string.Empty;

    internal DormsServer Dorms { get; private set; } = null!;

    internal DormsServer WrongCa { get; private set; } = null!;

    internal DormsServer Xrd { get; private set; } = null!;

    internal Bind9Server Bind { get; private set; } = null!;

    /// <summary>The PEM of the CA that signed dorms and xrd (not wrongca).</summary>
    public string CaBundle { get; private set; } = string.Empty;

    private static SourceGroup Flow(IPAddress source, string group) => new(source, IPAddress.Parse(group));

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("ic-dorms-").FullName;
        var trusted = Keep(LabCertificates.CreateAuthority("IngestCluster test DORMS CA"));
        var untrusted = Keep(LabCertificates.CreateAuthority("Somebody else's CA"));
        CaBundle = Path.Combine(_directory, "ca.pem");
        LabCertificates.WriteCertificatePem(trusted, CaBundle);
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);

        Dorms = await DormsServer.StartAsync(new DormsServerOptions(
            loopback,
            Keep(LabCertificates.IssueServer(trusted, ["dorms.example.net"], [IPAddress.Loopback])),
            [
                new DormsFlow(Good.Source, Good.Group, 2000, MaxPacketSize: 1316, DataRateWindowMs: 1000, Priority: 300),
                new DormsFlow(GoodOlder.Source, GoodOlder.Group, 3000, MaxPacketSize: 1200, Shape: DormsShape.Older),
                new DormsFlow(Garbage.Source, Garbage.Group, 1, Misbehaviour: DormsMisbehaviour.Garbage),
                new DormsFlow(Status500.Source, Status500.Group, 1, Misbehaviour: DormsMisbehaviour.Status500),
                new DormsFlow(RedirectLoop.Source, RedirectLoop.Group, 1, Misbehaviour: DormsMisbehaviour.RedirectLoop),
                new DormsFlow(Slow.Source, Slow.Group, 1, Misbehaviour: DormsMisbehaviour.Slow),
                new DormsFlow(Endless.Source, Endless.Group, 1, Misbehaviour: DormsMisbehaviour.Endless),
                new DormsFlow(OnFailover.Source, OnFailover.Group, 4000),
                new DormsFlow(Ipv6.Source, Ipv6.Group, 500),
            ],
            MaxAge: TimeSpan.FromSeconds(120)));
        WrongCa = await DormsServer.StartAsync(new DormsServerOptions(
            loopback,
            Keep(LabCertificates.IssueServer(untrusted, ["wrongca.example.net"], [IPAddress.Loopback])),
            [new DormsFlow(OnWrongCa.Source, OnWrongCa.Group, 2000), new DormsFlow(OnFailover.Source, OnFailover.Group, 9999)]));
        Xrd = await DormsServer.StartAsync(new DormsServerOptions(
            loopback,
            Keep(LabCertificates.IssueServer(trusted, ["xrd.example.net"], [IPAddress.Loopback])),
            [new DormsFlow(OnXrd.Source, OnXrd.Group, 750)],
            RestconfRoot: "/api/restconf",
            HostMeta: HostMetaForms.XrdOnly));

        const string Soa = """
            $TTL 300
            @   IN SOA ns.example.net. hostmaster.example.net. 1 7200 600 86400 60
            @   IN NS  ns.example.net.

            """;
        Bind = new Bind9Server(
            new Dictionary<string, string>
            {
                ["100.51.198.in-addr.arpa"] = Soa + $"""
                    _dorms._tcp.12  IN SRV 0 0 {Dorms.EndPoint.Port} dorms.example.net.
                    _dorms._tcp.20  IN SRV 0 0 {WrongCa.EndPoint.Port} wrongca.example.net.
                    _dorms._tcp.30  IN SRV 0 0 {Xrd.EndPoint.Port} xrd.example.net.
                    _dorms._tcp.40  IN SRV 0 0 {WrongCa.EndPoint.Port} wrongca.example.net.
                    _dorms._tcp.40  IN SRV 10 0 {Dorms.EndPoint.Port} dorms.example.net.
                    ; 14 has no SRV record
                    14              IN TXT "no DORMS here"
                    """,
                ["8.b.d.0.1.0.0.2.ip6.arpa"] = Soa + $"""
                    _dorms._tcp.{ReverseName.For(Ipv6Source)} IN SRV 0 0 {Dorms.EndPoint.Port} dorms.example.net.
                    """,
                ["example.net"] = Soa + """
                    ns          IN A 127.0.0.1
                    dorms   600 IN A 127.0.0.1
                    wrongca 600 IN A 127.0.0.1
                    xrd     200 IN A 127.0.0.1
                    """,
            },
            readyWithin: TimeSpan.FromSeconds(20));
    }

    private X509Certificate2 Keep(X509Certificate2 certificate)
    {
        _certificates.Add(certificate);
        return certificate;
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { Dorms, WrongCa, Xrd })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
        Bind?.Dispose();
        foreach (var certificate in _certificates)
        {
            certificate.Dispose();
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
