using IngestCluster.IntegrationTests.Dns;
using IngestCluster.Node.Budget.Metadata;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Cbacc;

namespace IngestCluster.IntegrationTests.Dorms;

/// <summary>
/// <see cref="DormsClient"/> against a real bind9 and the lab DORMS servers of <see cref="DormsFixture"/>, all on
/// 127.0.0.1. Each misbehaviour is fetched at the same time as a good flow of the same server, which must still be
/// found.
/// </summary>
public sealed class DormsClientTests(DormsFixture lab) : IClassFixture<DormsFixture>, IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly NodeMetrics _metrics = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 1, 22, 0, 0, TimeSpan.Zero));
    private readonly List<DormsClient> _clients = [];

    private MetadataSettings Settings => new()
    {
        Timeout = RequestTimeout,
        MaxConcurrent = 4,
        NegativeTtl = TimeSpan.FromMinutes(2),
        MinTtl = TimeSpan.FromSeconds(30),
        MaxTtl = TimeSpan.FromHours(1),
        CaBundle = lab.CaBundle,
    };

    private DormsClient Client(MetadataSettings? settings = null)
    {
        var dns = DriadResolver.CreateClient(new DriadResolverOptions
        {
            NameServers = [lab.Bind.EndPoint],
            Timeout = TimeSpan.FromSeconds(2),
            Retries = 1,
        });
        var client = new DormsClient(dns, settings ?? Settings, _metrics, _clock, new Random(7));
        _clients.Add(client);
        return client;
    }

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    private static async Task<MetadataResult> Within(Task<MetadataResult> fetch) => await fetch.WaitAsync(Deadline);

    private static CbaccMetadata AssertFound(MetadataResult result, long bitsPerSecond)
    {
        var found = result as MetadataResult.Found;
        Assert.True(found is not null, $"expected metadata, got {result.Detail}");
        Assert.Equal(bitsPerSecond, found.Metadata.BitsPerSecond);
        return found.Metadata;
    }

    private static MetadataResult.Failed AssertFailed(MetadataResult result, MetadataFailure failure)
    {
        var failed = result as MetadataResult.Failed;
        Assert.True(failed is not null, $"expected {failure}, got {result.Detail}");
        Assert.True(failed.Failure == failure, $"expected {failure}, got {result.Detail}");
        return failed;
    }

    private long Fetches(string result) => _metrics.Value("ingest_metadata_fetches_total", $"result=\"{result}\"");

    /// <summary>Waits for a condition on the servers' own counters, up to the deadline.</summary>
    private static async Task Eventually(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"{what}: not within {Deadline}");
            await Task.Delay(20);
        }
    }

    /// <summary>The bad flow and <see cref="DormsFixture.Good"/> fetched together; the good one must be found.</summary>
    private async Task<MetadataResult> FetchBesideGoodFlow(SourceGroup bad)
    {
        var client = Client();
        var badFetch = client.FetchAsync(bad);
        var goodFetch = client.FetchAsync(DormsFixture.Good);
        AssertFound(await Within(goodFetch), 2_000_000);
        return await Within(badFetch);
    }

    [Fact]
    public async Task Current_shape_metadata_is_found_with_its_rate_in_bits_per_second()
    {
        var result = await Within(Client().FetchAsync(DormsFixture.Good));

        var metadata = AssertFound(result, 2_000_000);
        Assert.Equal(1316, metadata.MaxPacketSize);
        Assert.Equal(TimeSpan.FromSeconds(1), metadata.DataRateWindow);
        Assert.Equal(300, metadata.Priority);
        Assert.Equal(CbaccNameSet.Current, metadata.NameSet);
        // max-age 120 s is shorter than the SRV TTL (300 s) and the address TTL (600 s).
        Assert.Equal(_clock.Now + TimeSpan.FromSeconds(120), result.Expires);
        Assert.Equal(1, Fetches("found"));
    }

    [Fact]
    public async Task Older_shape_metadata_is_found_at_the_older_path_with_its_rate_in_bits_per_second()
    {
        var result = await Within(Client().FetchAsync(DormsFixture.GoodOlder));

        var metadata = AssertFound(result, 3_000_000);
        Assert.Equal(1200, metadata.MaxPacketSize);
        Assert.Equal(CbaccNameSet.Older, metadata.NameSet);
    }

    [Fact]
    public async Task Host_meta_in_XRD_only_names_another_root_and_the_shortest_DNS_TTL_bounds_the_lifetime()
    {
        var result = await Within(Client().FetchAsync(DormsFixture.OnXrd));

        AssertFound(result, 750_000);
        // No Cache-Control here: the address record's 200 s is the shortest TTL on the way (SRV 300 s).
        Assert.Equal(_clock.Now + TimeSpan.FromSeconds(200), result.Expires);
    }

    [Fact]
    public async Task An_ipv6_flow_is_found_under_ip6_arpa_with_its_keys_percent_encoded()
    {
        var result = await Within(Client().FetchAsync(DormsFixture.Ipv6));
        AssertFound(result, 500_000);
    }

    [Fact]
    public async Task A_target_that_fails_is_skipped_for_the_next_in_SRV_order()
    {
        // Priority 0 is the server with the untrusted certificate (which would say 9999 kbit/s); priority 10 says 4000.
        var result = await Within(Client().FetchAsync(DormsFixture.OnFailover));
        AssertFound(result, 4_000_000);
    }

    [Fact]
    public async Task A_flow_the_server_does_not_know_is_not_found_and_cached_for_the_negative_TTL()
    {
        var result = await Within(Client().FetchAsync(DormsFixture.Unknown));

        var notFound = result as MetadataResult.NotFound;
        Assert.True(notFound is not null, $"expected not found, got {result.Detail}");
        Assert.Contains("404", notFound.Reason, StringComparison.Ordinal);
        Assert.Equal(_clock.Now + TimeSpan.FromMinutes(2), result.Expires);
        Assert.Equal(1, Fetches("not_found"));
    }

    [Fact]
    public async Task A_source_without_an_SRV_record_is_NoSrv_for_the_zone_negative_TTL()
    {
        var result = await Within(Client().FetchAsync(DormsFixture.WithoutSrv));

        var failed = AssertFailed(result, MetadataFailure.NoSrv);
        Assert.Contains("_dorms._tcp.14.100.51.198.in-addr.arpa", failed.Reason, StringComparison.Ordinal);
        // The SOA minimum (60 s) is shorter than the configured negative TTL (2 min).
        Assert.Equal(_clock.Now + TimeSpan.FromSeconds(60), result.Expires);
        Assert.Equal(1, Fetches("no_srv"));
    }

    [Fact]
    public async Task A_garbage_body_is_BadBody_and_does_not_disturb_a_good_flow()
    {
        var failed = AssertFailed(await FetchBesideGoodFlow(DormsFixture.Garbage), MetadataFailure.BadBody);
        Assert.Contains("BadJson", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(_clock.Now + TimeSpan.FromMinutes(2), failed.Expires);
        Assert.Equal(1, Fetches("bad_body"));
        Assert.Equal(1, Fetches("found"));
    }

    [Fact]
    public async Task An_HTTP_500_is_HttpStatus_and_does_not_disturb_a_good_flow()
    {
        var failed = AssertFailed(await FetchBesideGoodFlow(DormsFixture.Status500), MetadataFailure.HttpStatus);
        Assert.Contains("HTTP 500", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(1, Fetches("http_status"));
    }

    [Fact]
    public async Task A_redirect_loop_is_detected_and_does_not_disturb_a_good_flow()
    {
        long before = lab.Dorms.Requests;
        var failed = AssertFailed(await FetchBesideGoodFlow(DormsFixture.RedirectLoop), MetadataFailure.RedirectLoop);
        Assert.Contains("already visited", failed.Reason, StringComparison.Ordinal);
        // host-meta and the metadata path for each flow, and for the loop its one redirect back: nothing more, so the
        // loop was stopped at the first repeat, not by the redirect limit.
        Assert.Equal(before + 2 + 3, lab.Dorms.Requests);
        Assert.Equal(1, Fetches("redirect_loop"));
    }

    [Fact]
    public async Task Too_many_redirects_are_refused_even_without_a_loop()
    {
        var failed = AssertFailed(
            await Within(Client(Settings with { MaxRedirects = 0 }).FetchAsync(DormsFixture.RedirectLoop)),
            MetadataFailure.TooManyRedirects);
        Assert.Contains("more than 0 redirects", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_from_a_CA_the_client_does_not_trust_is_BadCertificate_and_does_not_disturb_a_good_flow()
    {
        var failed = AssertFailed(await FetchBesideGoodFlow(DormsFixture.OnWrongCa), MetadataFailure.BadCertificate);
        Assert.Contains("Somebody else's CA", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(1, Fetches("bad_certificate"));
        Assert.Equal(1, Fetches("found"));
    }

    [Fact]
    public async Task Without_the_CA_bundle_the_lab_certificate_is_not_trusted()
    {
        var result = await Within(Client(Settings with { CaBundle = null }).FetchAsync(DormsFixture.Good));
        var failed = AssertFailed(result, MetadataFailure.BadCertificate);
        Assert.Contains("IngestCluster test DORMS CA", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_a_Timeout_and_does_not_disturb_a_good_flow()
    {
        var client = Client();
        long heldBefore = lab.Dorms.HeldRequests;
        var slow = client.FetchAsync(DormsFixture.Slow);
        await Eventually(() => lab.Dorms.HeldRequests > heldBefore, "the server holds the slow request");

        var good = await Within(client.FetchAsync(DormsFixture.Good));
        AssertFound(good, 2_000_000);
        Assert.False(slow.IsCompleted, "the slow fetch ended before the good one, so it was not fetched beside it");

        var failed = AssertFailed(await Within(slow), MetadataFailure.Timeout);
        Assert.Contains("within 3 s", failed.Reason, StringComparison.Ordinal);
        // The client hung up: the server's held request ends.
        await Eventually(() => lab.Dorms.HeldRequests == heldBefore, "the held request ends when the client gives up");
        Assert.Equal(1, Fetches("timeout"));
    }

    [Fact]
    public async Task An_endless_body_is_stopped_at_64_KiB_and_does_not_disturb_a_good_flow()
    {
        var failed = AssertFailed(await FetchBesideGoodFlow(DormsFixture.Endless), MetadataFailure.TooLarge);
        Assert.Contains("longer than 65536 bytes", failed.Reason, StringComparison.Ordinal);
        // The client stopped reading and closed the connection: the server's endless writer ends.
        await Eventually(() => lab.Dorms.OpenEndlessResponses == 0, "the endless response ends when the client hangs up");
        Assert.True(lab.Dorms.EndlessBytesSent >= 64 * 1024, $"the server sent only {lab.Dorms.EndlessBytesSent} bytes");
        Assert.Equal(1, Fetches("too_large"));
    }

    [Fact]
    public async Task Fetches_beyond_the_concurrency_bound_wait_for_a_slot()
    {
        // One slot, held by the slow flow until its timeout: the good flow can only be fetched after it.
        var client = Client(Settings with { MaxConcurrent = 1 });
        long heldBefore = lab.Dorms.HeldRequests;
        var slow = client.FetchAsync(DormsFixture.Slow);
        await Eventually(() => lab.Dorms.HeldRequests > heldBefore, "the server holds the slow request");
        long requestsWhileHeld = lab.Dorms.Requests;
        var good = client.FetchAsync(DormsFixture.Good);

        // A bounded wait for something that must not happen: the good fetch neither ends nor reaches the server.
        await Task.WhenAny(good, Task.Delay(TimeSpan.FromSeconds(1)));
        Assert.False(good.IsCompleted, "the good fetch ran while the only slot was taken");
        Assert.Equal(requestsWhileHeld, lab.Dorms.Requests);

        AssertFailed(await Within(slow), MetadataFailure.Timeout);
        AssertFound(await Within(good), 2_000_000);
    }
}
