using System.Net;
using IngestCluster.Protocols.Cbacc;

namespace IngestCluster.Protocols.Tests.Cbacc;

public class CbaccMetadataTests
{
    private static readonly IPAddress S = IPAddress.Parse("23.212.185.4");
    private static readonly IPAddress G = IPAddress.Parse("232.1.1.1");

    private static CbaccMetadata Read(string json, string source, string group)
    {
        Assert.True(CbaccMetadata.TryRead(json, IPAddress.Parse(source), IPAddress.Parse(group), out var metadata, out var error), error.ToString());
        Assert.False(error.IsError);
        return metadata;
    }

    private static CbaccError Fail(string json, string source = "23.212.185.4", string group = "232.1.1.1")
    {
        Assert.False(CbaccMetadata.TryRead(json, IPAddress.Parse(source), IPAddress.Parse(group), out _, out var error));
        Assert.True(error.IsError);
        return error;
    }

    [Fact]
    public void Older_response_body_gives_bits_per_second_from_a_string_and_defaults_for_the_rest()
    {
        var metadata = Read(CbaccSamples.Vector("older-response.json"), "23.212.185.4", "232.1.1.1");
        Assert.Equal(new CbaccMetadata(2000, 1400, TimeSpan.FromSeconds(2), 256, CbaccNameSet.Older), metadata);
    }

    [Fact]
    public void Older_full_document_is_looked_up_by_source_and_group_as_published()
    {
        string json = CbaccSamples.Vector("older-name-set.json");
        // The published sample has the source typo 23.185.212.4; it is looked up as written.
        Assert.Equal(2000, Read(json, "23.185.212.4", "232.1.1.1").BitsPerSecond);
        Assert.Equal(10_000_000, Read(json, "23.185.212.4", "232.10.10.1").BitsPerSecond);
        Assert.Equal(CbaccNameSet.Older, Read(json, "23.185.212.4", "232.10.10.1").NameSet);
    }

    [Fact]
    public void Older_full_document_has_no_entry_for_the_source_it_meant()
    {
        var error = Fail(CbaccSamples.Vector("older-name-set.json"));
        Assert.Equal(CbaccFailure.NotFound, error.Kind);
        Assert.Contains("23.212.185.4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_group_in_a_known_sender_is_not_found()
    {
        var error = Fail(CbaccSamples.Vector("older-name-set.json"), "23.185.212.4", "232.9.9.9");
        Assert.Equal(CbaccFailure.NotFound, error.Kind);
        Assert.Contains("232.9.9.9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Current_document_gives_kilobits_as_bits_and_every_leaf()
    {
        var metadata = Read(CbaccSamples.Ours("ours-current-dorms.json"), "23.212.185.4", "232.1.1.1");
        Assert.Equal(new CbaccMetadata(2_000_000, 1316, TimeSpan.FromMilliseconds(1000), 300, CbaccNameSet.Current), metadata);
    }

    [Fact]
    public void Current_document_fills_defaults_and_reads_string_numbers()
    {
        var metadata = Read(CbaccSamples.Ours("ours-current-dorms.json"), "23.212.185.4", "232.10.10.1");
        Assert.Equal(new CbaccMetadata(10_000_000, 1400, TimeSpan.FromMilliseconds(2000), 256, CbaccNameSet.Current), metadata);
    }

    [Fact]
    public void Current_document_matches_IPv6_addresses_by_value_and_ignores_vendor_leaves()
    {
        var metadata = Read(CbaccSamples.Ours("ours-current-dorms.json"), "2001:db8:0::4", "ff3e:0::8000:1");
        Assert.Equal(500_000, metadata.BitsPerSecond);
    }

    [Fact]
    public void Group_list_response_is_read_for_its_group()
    {
        var metadata = Read(CbaccSamples.Ours("ours-current-group-response.json"), "23.212.185.4", "232.1.1.1");
        Assert.Equal(2_000_000, metadata.BitsPerSecond);
        Assert.Equal(1316, metadata.MaxPacketSize);
    }

    [Fact]
    public void Older_streams_of_one_group_add_up()
    {
        const string json = """
            {"ietf-dorms:metadata":{"sender":[{"source-address":"23.212.185.4","group":[{"group-address":"232.1.1.1",
             "udp-stream":[{"port":"5001","ietf-cbacc:cbacc":{"max-bits-per-second":"2000","max-mss":"1200"}},
                           {"port":"5002","ietf-cbacc:cbacc":{"max-bits-per-second":3000,"max-mss":1300}}]}]}]}}
            """;
        var metadata = Read(json, "23.212.185.4", "232.1.1.1");
        Assert.Equal(5000, metadata.BitsPerSecond);
        Assert.Equal(1300, metadata.MaxPacketSize);
    }

    [Fact]
    public void Max_speed_is_preferred_when_both_name_sets_are_present()
    {
        var metadata = Read("""{"ietf-cbacc:cbacc":{"max-speed":3,"max-bits-per-second":"999"}}""", "23.212.185.4", "232.1.1.1");
        Assert.Equal((3000, CbaccNameSet.Current), (metadata.BitsPerSecond, metadata.NameSet));
    }

    [Fact]
    public void Missing_max_speed_is_named()
    {
        var error = Fail("""{"ietf-cbacc:cbacc":{"max-packet-size":1316}}""");
        Assert.Equal(CbaccFailure.Missing, error.Kind);
        Assert.EndsWith("max-speed", error.Field, StringComparison.Ordinal);
        Assert.Contains("max-speed is missing", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":"fast"}}""", CbaccFailure.BadNumber, "max-speed")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":1.5}}""", CbaccFailure.BadNumber, "max-speed")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":true}}""", CbaccFailure.BadNumber, "max-speed")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":-5}}""", CbaccFailure.Negative, "max-speed")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":99999999999999999999}}""", CbaccFailure.BadNumber, "max-speed")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":9223372036854776}}""", CbaccFailure.BadNumber, "max-speed")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-bits-per-second":"-1"}}""", CbaccFailure.Negative, "max-bits-per-second")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":1,"max-packet-size":70000}}""", CbaccFailure.BadNumber, "max-packet-size")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":1,"data-rate-window":"x"}}""", CbaccFailure.BadNumber, "data-rate-window")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":1,"priority":-1}}""", CbaccFailure.Negative, "priority")]
    [InlineData("""{"ietf-cbacc:cbacc":[1]}""", CbaccFailure.BadJson, "ietf-cbacc:cbacc")]
    [InlineData("""{"ietf-cbacc:cbacc":""", CbaccFailure.BadJson, "$")]
    [InlineData("""[]""", CbaccFailure.BadJson, "$")]
    [InlineData("", CbaccFailure.BadJson, "$")]
    [InlineData("""{"something":"else"}""", CbaccFailure.NotFound, "$")]
    [InlineData("""{"ietf-cbacc:cbacc":{"max-speed":1}} trailing""", CbaccFailure.BadJson, "$")]
    public void Bad_values_give_a_typed_error_that_names_the_field(string json, CbaccFailure kind, string field)
    {
        var error = Fail(json);
        Assert.Equal(kind, error.Kind);
        Assert.EndsWith(field, error.Field, StringComparison.Ordinal);
        Assert.NotEmpty(error.Message);
    }
}
