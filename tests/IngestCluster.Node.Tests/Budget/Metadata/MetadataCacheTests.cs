using System.Net;
using System.Net.Http.Headers;
using IngestCluster.Node.Budget.Metadata;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Cbacc;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Budget.Metadata;

public sealed class MetadataCacheTests
{
    private static readonly SourceGroup Flow = new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.1"));
    private static readonly SourceGroup Other = new(IPAddress.Parse("198.51.100.12"), IPAddress.Parse("232.1.1.2"));
    private static readonly CbaccMetadata TwoMegabits = new(2_000_000, 1316, TimeSpan.FromSeconds(1), 256, CbaccNameSet.Current);

    private static readonly MetadataSettings Settings = new()
    {
        MinTtl = TimeSpan.FromSeconds(30),
        MaxTtl = TimeSpan.FromMinutes(10),
        NegativeTtl = TimeSpan.FromMinutes(2),
    };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    private DateTimeOffset Now => _time.GetUtcNow();

    [Fact]
    public void Found_metadata_lives_for_the_DNS_TTL_when_HTTP_says_nothing()
    {
        Assert.Equal(Now + TimeSpan.FromSeconds(300), MetadataLifetime.ForFound(Now, TimeSpan.FromSeconds(300), null, Settings));
    }

    [Fact]
    public void Found_metadata_lives_for_the_shorter_of_the_DNS_TTL_and_the_HTTP_lifetime()
    {
        Assert.Equal(Now + TimeSpan.FromSeconds(120), MetadataLifetime.ForFound(Now, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(120), Settings));
        Assert.Equal(Now + TimeSpan.FromSeconds(90), MetadataLifetime.ForFound(Now, TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(200), Settings));
    }

    [Fact]
    public void Found_lifetimes_are_clamped_to_the_minimum_and_maximum_TTL()
    {
        Assert.Equal(Now + Settings.MinTtl, MetadataLifetime.ForFound(Now, TimeSpan.Zero, null, Settings));
        Assert.Equal(Now + Settings.MinTtl, MetadataLifetime.ForFound(Now, TimeSpan.FromSeconds(300), TimeSpan.Zero, Settings));
        Assert.Equal(Now + Settings.MaxTtl, MetadataLifetime.ForFound(Now, TimeSpan.FromDays(2), TimeSpan.FromDays(1), Settings));
    }

    [Fact]
    public void Negative_results_live_for_the_negative_TTL()
    {
        Assert.Equal(Now + TimeSpan.FromMinutes(2), MetadataLifetime.ForNegative(Now, null, Settings));
        // A longer hint does not lengthen it.
        Assert.Equal(Now + TimeSpan.FromMinutes(2), MetadataLifetime.ForNegative(Now, TimeSpan.FromHours(1), Settings));
    }

    [Fact]
    public void A_shorter_hint_shortens_a_negative_result_but_not_below_the_minimum_TTL()
    {
        Assert.Equal(Now + TimeSpan.FromSeconds(60), MetadataLifetime.ForNegative(Now, TimeSpan.FromSeconds(60), Settings));
        Assert.Equal(Now + Settings.MinTtl, MetadataLifetime.ForNegative(Now, TimeSpan.Zero, Settings));
        var shortNegative = Settings with { NegativeTtl = TimeSpan.FromSeconds(10) };
        Assert.Equal(Now + TimeSpan.FromSeconds(10), MetadataLifetime.ForNegative(Now, TimeSpan.Zero, shortNegative));
    }

    [Fact]
    public void A_cached_result_is_returned_until_it_expires_and_not_after()
    {
        var cache = new MetadataCache(Settings, _time);
        var found = new MetadataResult.Found(TwoMegabits, MetadataLifetime.ForFound(Now, TimeSpan.FromSeconds(300), null, Settings));
        cache.Put(Flow, found);

        _time.Advance(TimeSpan.FromSeconds(299));
        Assert.True(cache.TryGet(Flow, out var hit));
        Assert.Same(found, hit);
        Assert.False(cache.TryGet(Other, out _));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet(Flow, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Negative_results_are_cached_for_the_negative_TTL()
    {
        var cache = new MetadataCache(Settings, _time);
        cache.Put(Flow, new MetadataResult.Failed(MetadataFailure.NoSrv, "no SRV record", MetadataLifetime.ForNegative(Now, null, Settings)));
        cache.Put(Other, new MetadataResult.NotFound("404 on both paths", MetadataLifetime.ForNegative(Now, null, Settings)));

        _time.Advance(TimeSpan.FromSeconds(119));
        Assert.True(cache.TryGet(Flow, out var failed));
        Assert.Equal(MetadataFailure.NoSrv, Assert.IsType<MetadataResult.Failed>(failed).Failure);
        Assert.IsType<MetadataResult.NotFound>(cache.TryGet(Other, out var notFound) ? notFound : null);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet(Flow, out _));
        Assert.False(cache.TryGet(Other, out _));
    }

    [Fact]
    public void A_newer_result_replaces_the_cached_one()
    {
        var cache = new MetadataCache(Settings, _time);
        cache.Put(Flow, new MetadataResult.Failed(MetadataFailure.Timeout, "slow", Now + TimeSpan.FromMinutes(2)));
        var found = new MetadataResult.Found(TwoMegabits, Now + TimeSpan.FromMinutes(5));
        cache.Put(Flow, found);
        Assert.True(cache.TryGet(Flow, out var hit));
        Assert.Same(found, hit);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void An_already_expired_result_is_not_kept()
    {
        var cache = new MetadataCache(Settings, _time);
        cache.Put(Flow, new MetadataResult.Found(TwoMegabits, Now));
        Assert.False(cache.TryGet(Flow, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_full_cache_drops_expired_entries_first_then_the_soonest_to_expire()
    {
        var cache = new MetadataCache(Settings with { MaxCacheEntries = 2 }, _time);
        var flows = Enumerable.Range(1, 4).Select(i => new SourceGroup(Flow.Source, IPAddress.Parse($"232.1.1.{i}"))).ToArray();
        cache.Put(flows[0], new MetadataResult.Found(TwoMegabits, Now + TimeSpan.FromSeconds(10)));
        cache.Put(flows[1], new MetadataResult.Found(TwoMegabits, Now + TimeSpan.FromSeconds(100)));
        _time.Advance(TimeSpan.FromSeconds(20));

        cache.Put(flows[2], new MetadataResult.Found(TwoMegabits, Now + TimeSpan.FromSeconds(50)));
        Assert.Equal(2, cache.Count);
        Assert.True(cache.TryGet(flows[1], out _));
        Assert.True(cache.TryGet(flows[2], out _));

        cache.Put(flows[3], new MetadataResult.Found(TwoMegabits, Now + TimeSpan.FromSeconds(500)));
        Assert.Equal(2, cache.Count);
        Assert.False(cache.TryGet(flows[2], out _));
        Assert.True(cache.TryGet(flows[1], out _));
        Assert.True(cache.TryGet(flows[3], out _));
    }

    [Fact]
    public void Http_max_age_less_the_age_is_the_lifetime()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        response.Headers.CacheControl = new CacheControlHeaderValue { MaxAge = TimeSpan.FromSeconds(600) };
        response.Headers.Age = TimeSpan.FromSeconds(100);
        response.Content.Headers.Expires = Now + TimeSpan.FromDays(1);
        Assert.Equal(TimeSpan.FromSeconds(500), HttpFreshness.Lifetime(response, Now));
    }

    [Fact]
    public void Http_expires_counts_from_the_date_header_or_from_now()
    {
        using var dated = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        dated.Headers.Date = Now - TimeSpan.FromHours(3);
        dated.Content.Headers.Expires = Now - TimeSpan.FromHours(2);
        Assert.Equal(TimeSpan.FromHours(1), HttpFreshness.Lifetime(dated, Now));

        using var undated = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        undated.Content.Headers.Expires = Now + TimeSpan.FromMinutes(7);
        Assert.Equal(TimeSpan.FromMinutes(7), HttpFreshness.Lifetime(undated, Now));
    }

    [Fact]
    public void No_store_no_cache_an_invalid_expires_and_a_past_one_are_a_lifetime_of_zero()
    {
        using var noStore = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        noStore.Headers.CacheControl = new CacheControlHeaderValue { NoStore = true, MaxAge = TimeSpan.FromHours(1) };
        Assert.Equal(TimeSpan.Zero, HttpFreshness.Lifetime(noStore, Now));

        using var noCache = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        noCache.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        Assert.Equal(TimeSpan.Zero, HttpFreshness.Lifetime(noCache, Now));

        using var invalid = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        Assert.True(invalid.Content.Headers.TryAddWithoutValidation("Expires", "0"));
        Assert.Equal(TimeSpan.Zero, HttpFreshness.Lifetime(invalid, Now));

        using var past = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        past.Content.Headers.Expires = Now - TimeSpan.FromMinutes(1);
        Assert.Equal(TimeSpan.Zero, HttpFreshness.Lifetime(past, Now));
    }

    [Fact]
    public void A_response_without_cache_headers_has_no_lifetime_of_its_own()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        Assert.Null(HttpFreshness.Lifetime(response, Now));
    }

    [Theory]
    [InlineData(MetadataFailure.NoSrv, "no_srv")]
    [InlineData(MetadataFailure.BadCertificate, "bad_certificate")]
    [InlineData(MetadataFailure.HttpStatus, "http_status")]
    [InlineData(MetadataFailure.NoRestconfRoot, "no_restconf_root")]
    [InlineData(MetadataFailure.Timeout, "timeout")]
    public void Failure_metric_labels_are_snake_case(MetadataFailure failure, string label)
    {
        Assert.Equal(label, MetadataResult.Label(failure));
    }
}
