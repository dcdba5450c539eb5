using System.Net;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;

namespace IngestCluster.IntegrationTests.Dns;

/// <summary>Akamai's published shape, byte for byte (Vectors/dns/real-world-amtrelay.txt): a CNAME in the reverse tree
/// into another zone, then a type-3 record of 22 bytes whose name has no zero byte. bind9 will not load that record
/// (nor parse it on the wire: dig reports a malformed packet), so NSD serves these zones.</summary>
public sealed class NsdAkamaiFixture : IDisposable
{
    private const string Soa = """
        $TTL 300
        @   IN SOA ns.example.net. hostmaster.example.net. 1 7200 600 86400 60
        @   IN NS  ns.example.net.

        """;

    public NsdAkamaiFixture()
    {
        Server = new NsdServer(
            new Dictionary<string, string>
            {
                ["185.212.23.in-addr.arpa"] = Soa + """
                    5   7200  IN CNAME 5.v4.driad.akastream2.com.
                    """,
                ["driad.akastream2.com"] = Soa + """
                    5.v4 43200 IN TYPE260 \# 22 1003047235763403616D7406616B61646E73036E6574
                    """,
                ["akadns.net"] = Soa + """
                    r5v4.amt IN A 18.144.42.229
                    """,
            },
            readyWithin: TimeSpan.FromSeconds(20));
    }

    internal NsdServer Server { get; }

    public void Dispose() => Server.Dispose();
}

public sealed class DriadResolverAkamaiShapeTests(NsdAkamaiFixture nsd) : IClassFixture<NsdAkamaiFixture>
{
    [Fact]
    public async Task Akamais_CNAME_and_rootless_type_3_name_lead_to_the_relay_address()
    {
        var metrics = new NodeMetrics();
        var resolver = new DriadResolver(
            new DriadResolverOptions { NameServers = [nsd.Server.EndPoint], Timeout = TimeSpan.FromSeconds(2), Retries = 1 },
            metrics,
            TimeProvider.System);
        var outcome = await resolver.ResolveAsync(IPAddress.Parse("23.212.185.5"));
        var found = Assert.IsType<DriadOutcome.RelayCandidates>(outcome);
        var relay = Assert.Single(found.Candidates);
        Assert.Equal(new RelayCandidate(16, false, new IPEndPoint(IPAddress.Parse("18.144.42.229"), 2268), "r5v4.amt.akadns.net."), relay);
        Assert.Equal(0, metrics.Total("ingest_driad_records_ignored_total"));
    }
}
