using System.Net;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;

namespace IngestCluster.IntegrationTests.Dns;

/// <summary>A clock the test moves by hand (the integration project has no TimeProvider.Testing).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Zones for DRIAD served by a real bind9: relay types 1, 2 and 3, type 0, a CNAME into another zone (the
/// shape Akamai published), a DNAME, and a source with no record.</summary>
public sealed class Bind9DriadFixture : IDisposable
{
    private const string Soa = """
        $TTL 300
        @   IN SOA ns.example.net. hostmaster.example.net. 1 7200 600 86400 60
        @   IN NS  ns.example.net.

        """;

    public Bind9DriadFixture()
    {
        Server = new Bind9Server(
            new Dictionary<string, string>
            {
                ["100.51.198.in-addr.arpa"] = Soa + """
                    12  IN AMTRELAY 10 0 1 203.0.113.15
                    12  IN AMTRELAY 20 0 2 2001:db8::15
                    12  IN AMTRELAY 30 1 3 amtrelays.example.net.
                    13  IN AMTRELAY 255 0 0 .
                    5   IN CNAME    5.v4.driad.example.com.
                    ; 14 has no record at all
                    ; 20: a relay type from the future (4), a relay, "no relay" at 50, and a relay after it
                    20  IN TYPE260  \# 6 05040a000001
                    20  IN AMTRELAY 10 0 1 192.0.2.20
                    20  IN AMTRELAY 50 0 0 .
                    20  IN AMTRELAY 60 0 1 192.0.2.60
                    """,
                ["0.192.in-addr.arpa"] = Soa + """
                    2   IN DNAME    rev.driad.example.com.
                    """,
                ["driad.example.com"] = Soa + """
                    5.v4   IN TYPE260 \# 24 1003047235763403616D74076578616D706C65036E657400
                    9.rev  IN AMTRELAY 40 0 1 192.0.2.99
                    """,
                ["example.net"] = Soa + """
                    ns        IN A    127.0.0.1
                    amtrelays IN A    203.0.113.30
                    amtrelays IN AAAA 2001:db8::30
                    r5v4.amt  IN A    18.144.42.229
                    """,
            },
            readyWithin: TimeSpan.FromSeconds(20));
    }

    internal Bind9Server Server { get; }

    public void Dispose() => Server.Dispose();
}

public sealed class DriadResolverBind9Tests(Bind9DriadFixture bind) : IClassFixture<Bind9DriadFixture>
{
    private readonly NodeMetrics _metrics = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 23, 22, 0, 0, TimeSpan.Zero));

    private DriadResolver Resolver() => new(
        new DriadResolverOptions { NameServers = [bind.Server.EndPoint], Timeout = TimeSpan.FromSeconds(2), Retries = 1 },
        _metrics,
        _clock);

    private static string Describe(DriadOutcome outcome) => outcome switch
    {
        DriadOutcome.RelayCandidates found => string.Join(", ", found.Candidates.OrderBy(c => c.Precedence).ThenBy(c => c.Relay.ToString(), StringComparer.Ordinal)),
        _ => outcome.Detail,
    };

    [Fact]
    public async Task Relays_of_types_1_2_and_3_are_found_with_the_name_resolved_to_A_and_AAAA()
    {
        var outcome = await Resolver().ResolveAsync(IPAddress.Parse("198.51.100.12"));
        var found = Assert.IsType<DriadOutcome.RelayCandidates>(outcome);
        Assert.Equal(
            "203.0.113.15:2268 (precedence 10), [2001:db8::15]:2268 (precedence 20), "
            + "203.0.113.30:2268 = amtrelays.example.net. (precedence 30, D), [2001:db8::30]:2268 = amtrelays.example.net. (precedence 30, D)",
            Describe(found));
        Assert.Equal(1, _metrics.Value("ingest_driad_lookups_total", "outcome=\"relays\""));
    }

    [Fact]
    public async Task Type_0_is_no_relay()
    {
        var outcome = await Resolver().ResolveAsync(IPAddress.Parse("198.51.100.13"));
        Assert.Equal("type 0: no relay", Assert.IsType<DriadOutcome.NoRelay>(outcome).Detail);
        Assert.Equal(1, _metrics.Value("ingest_driad_lookups_total", "outcome=\"no_relay\""));
    }

    [Fact]
    public async Task Unknown_relay_types_are_ignored_and_type_0_ends_the_list_at_its_precedence()
    {
        var outcome = await Resolver().ResolveAsync(IPAddress.Parse("198.51.100.20"));
        Assert.Equal("192.0.2.20:2268 (precedence 10)", Describe(outcome));
        Assert.Equal(1, _metrics.Value("ingest_driad_records_ignored_total", "reason=\"unsupported_type\""));
    }

    [Fact]
    public async Task A_source_without_a_record_has_no_record()
    {
        var outcome = await Resolver().ResolveAsync(IPAddress.Parse("198.51.100.14"));
        Assert.Equal("no AMTRELAY record for 198.51.100.14", Assert.IsType<DriadOutcome.NoRecord>(outcome).Detail);
        Assert.Equal(1, _metrics.Value("ingest_driad_lookups_total", "outcome=\"no_record\""));
    }

    [Fact]
    public async Task A_CNAME_into_another_zone_is_followed_to_a_named_relay()
    {
        var outcome = await Resolver().ResolveAsync(IPAddress.Parse("198.51.100.5"));
        Assert.True(outcome is DriadOutcome.RelayCandidates, Describe(outcome));
        Assert.Equal("18.144.42.229:2268 = r5v4.amt.example.net. (precedence 16)", Describe(outcome));
    }

    [Fact]
    public async Task A_DNAME_is_followed()
    {
        var outcome = await Resolver().ResolveAsync(IPAddress.Parse("192.0.2.9"));
        Assert.Equal("192.0.2.99:2268 (precedence 40)", Describe(outcome));
    }

    [Fact]
    public async Task Answers_are_cached_for_their_TTL_and_asked_again_after()
    {
        var resolver = Resolver();
        var source = IPAddress.Parse("198.51.100.12");
        var first = await resolver.ResolveAsync(source);
        _clock.Now += TimeSpan.FromSeconds(299);
        var second = await resolver.ResolveAsync(source);
        Assert.Same(first, second);
        Assert.Equal(1, _metrics.Value("ingest_driad_cache_hits_total"));

        _clock.Now += TimeSpan.FromSeconds(2);
        var third = await resolver.ResolveAsync(source);
        Assert.NotSame(first, third);
        Assert.Equal(Describe(first), Describe(third));
        Assert.Equal(1, _metrics.Value("ingest_driad_cache_hits_total"));
    }

    [Fact]
    public async Task No_answer_is_a_DNS_failure_not_an_exception()
    {
        // A port nobody listens on: bind9's port plus a socket we hold closed is not guaranteed, so use a bound,
        // silent UDP socket of our own.
        using var silent = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var resolver = new DriadResolver(
            new DriadResolverOptions { NameServers = [(IPEndPoint)silent.Client.LocalEndPoint!], Timeout = TimeSpan.FromMilliseconds(300), Retries = 0 },
            _metrics,
            _clock);
        var outcome = await resolver.ResolveAsync(IPAddress.Parse("198.51.100.12"));
        Assert.IsType<DriadOutcome.DnsFailure>(outcome);
        Assert.Equal(1, _metrics.Value("ingest_driad_lookups_total", "outcome=\"dns_failure\""));
    }
}
