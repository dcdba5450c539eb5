using System.Net;
using IngestCluster.Admin.Contracts;
using IngestCluster.Node.Sources;

namespace IngestCluster.Node.Tests.Sources;

public sealed class RelayOverrideStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("icop-overrides-").FullName;

    private string FilePath => Path.Combine(_directory, RelayOverrideStore.FileName);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static RelayOverrideTable Configured() =>
        new([new RelayOverride(IPNetwork.Parse("10.0.0.0/8"), new IPEndPoint(IPAddress.Parse("192.0.2.1"), 2268))], consultBeforeDns: true);

    [Fact]
    public async Task Added_overrides_are_saved_and_come_back_when_the_store_is_opened_again()
    {
        var store = RelayOverrideStore.Open(Configured(), FilePath);
        var (entry, error) = await store.AddAsync(new RelayOverrideRequest("198.51.100.0/24", "192.0.2.7:3000"), CancellationToken.None);
        Assert.True(entry is not null, error);

        var reopened = RelayOverrideStore.Open(Configured(), FilePath);
        Assert.True(reopened.Current.TryFind(IPAddress.Parse("198.51.100.9"), out var relay));
        Assert.Equal(IPEndPoint.Parse("192.0.2.7:3000"), relay);
        Assert.True(reopened.Current.TryFind(IPAddress.Parse("10.1.2.3"), out var configured));
        Assert.Equal(IPEndPoint.Parse("192.0.2.1:2268"), configured);
        Assert.True(reopened.ConsultBeforeDns);
        Assert.Equal(["198.51.100.0/24", "10.0.0.0/8"], reopened.Entries.Select(e => e.Prefix.ToString()));
    }

    [Fact]
    public async Task A_dns_name_is_resolved_and_a_name_that_does_not_resolve_is_kept_unused()
    {
        var store = RelayOverrideStore.Open(RelayOverrideTable.Empty, FilePath);
        await store.AddAsync(new RelayOverrideRequest("198.51.100.0/24", "localhost"), CancellationToken.None);
        await store.AddAsync(new RelayOverrideRequest("203.0.113.0/24", "relay.invalid:2300"), CancellationToken.None);

        Assert.True(store.Current.TryFind(IPAddress.Parse("198.51.100.1"), out var relay));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 2268), relay);
        Assert.False(store.Current.TryFind(IPAddress.Parse("203.0.113.1"), out _));
        var unresolved = Assert.Single(store.Entries, e => e.Relay == "relay.invalid:2300");
        Assert.Null(unresolved.ResolvedTo);
    }

    [Fact]
    public async Task A_run_time_override_replaces_a_configured_one_of_the_same_prefix_and_only_run_time_ones_can_be_removed()
    {
        var store = RelayOverrideStore.Open(Configured(), FilePath);
        await store.AddAsync(new RelayOverrideRequest("10.0.0.0/8", "192.0.2.99"), CancellationToken.None);
        Assert.True(store.Current.TryFind(IPAddress.Parse("10.9.9.9"), out var relay));
        Assert.Equal(IPEndPoint.Parse("192.0.2.99:2268"), relay);

        Assert.True(store.Remove("10.0.0.0/8", out _));
        Assert.True(store.Current.TryFind(IPAddress.Parse("10.9.9.9"), out relay));
        Assert.Equal(IPEndPoint.Parse("192.0.2.1:2268"), relay);
        Assert.False(store.Remove("10.0.0.0/8", out string error));
        Assert.Contains("Relays:Overrides", error, StringComparison.Ordinal);
        Assert.False(store.Remove("172.16.0.0/12", out error));
        Assert.StartsWith("no relay override", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.0/33", "192.0.2.1")]
    [InlineData("10.0.0.0/8", "")]
    [InlineData("10.0.0.0/8", "relay.example:99999")]
    [InlineData("10.0.0.0/8", "not a name")]
    public async Task Bad_prefixes_and_relays_are_refused_and_nothing_is_saved(string prefix, string relay)
    {
        var store = RelayOverrideStore.Open(RelayOverrideTable.Empty, FilePath);
        var (entry, error) = await store.AddAsync(new RelayOverrideRequest(prefix, relay), CancellationToken.None);
        Assert.Null(entry);
        Assert.NotEmpty(error);
        Assert.False(File.Exists(FilePath));
    }

    [Fact]
    public void A_damaged_file_stops_the_node_rather_than_losing_the_overrides()
    {
        File.WriteAllText(FilePath, "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => RelayOverrideStore.Open(RelayOverrideTable.Empty, FilePath));
        Assert.Contains(FilePath, e.Message, StringComparison.Ordinal);
    }
}
