using System.Collections.Immutable;
using System.Net;
using IngestCluster.Node.Sources;

namespace IngestCluster.Node.Tests.Sources;

public class RelaySelectionTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 22, 0, 0, TimeSpan.Zero);

    private static RelayCandidate Candidate(byte precedence, string address) =>
        new(precedence, false, new IPEndPoint(IPAddress.Parse(address), 2268));

    [Fact]
    public void Lower_precedence_comes_first_whatever_the_input_order()
    {
        var ordered = RelaySelection.Order(
            [Candidate(32, "162.250.137.254"), Candidate(16, "10.0.9.16"), Candidate(15, "69.77.14.145")], new Random(1));
        Assert.Equal(["69.77.14.145", "10.0.9.16", "162.250.137.254"], ordered.Select(c => c.Relay.Address.ToString()));
    }

    [Fact]
    public void Equal_precedences_are_chosen_at_random_and_all_orders_occur()
    {
        RelayCandidate[] input = [Candidate(15, "69.77.14.145"), Candidate(32, "162.250.137.254"), Candidate(32, "198.38.23.145"), Candidate(32, "162.250.136.101")];
        var firstAtLevel32 = new Dictionary<string, int>();
        var random = new Random(8777);
        for (int i = 0; i < 3000; i++)
        {
            var ordered = RelaySelection.Order(input, random);
            Assert.Equal("69.77.14.145", ordered[0].Relay.Address.ToString());
            Assert.All(ordered.Skip(1), c => Assert.Equal(32, c.Precedence));
            string first = ordered[1].Relay.Address.ToString();
            firstAtLevel32[first] = firstAtLevel32.GetValueOrDefault(first) + 1;
        }
        Assert.Equal(3, firstAtLevel32.Count);
        Assert.All(firstAtLevel32.Values, count => Assert.InRange(count, 800, 1200));
    }

    [Fact]
    public void The_same_seed_gives_the_same_order()
    {
        RelayCandidate[] input = [Candidate(32, "10.0.0.1"), Candidate(32, "10.0.0.2"), Candidate(32, "10.0.0.3"), Candidate(32, "10.0.0.4")];
        Assert.Equal(RelaySelection.Order(input, new Random(5)).ToArray(), RelaySelection.Order(input, new Random(5)).ToArray());
    }

    [Fact]
    public void A_relay_listed_twice_keeps_its_lowest_precedence()
    {
        var ordered = RelaySelection.Order([Candidate(40, "10.0.0.1"), Candidate(10, "10.0.0.1"), Candidate(20, "10.0.0.2")], new Random(1));
        Assert.Equal([(10, "10.0.0.1"), (20, "10.0.0.2")], ordered.Select(c => ((int)c.Precedence, c.Relay.Address.ToString())));
    }

    [Fact]
    public void Held_down_relays_are_skipped_until_their_hold_down_ends()
    {
        ImmutableArray<RelayCandidate> ordered = [Candidate(10, "10.0.0.1"), Candidate(20, "10.0.0.2"), Candidate(30, "10.0.0.3")];
        var holdDowns = RelayHoldDowns.None
            .Add(ordered[0].Relay, Now.AddMinutes(5))
            .Add(ordered[1].Relay, Now.AddMinutes(3));
        Assert.Equal(2, RelaySelection.NextUsable(ordered, 0, holdDowns, Now));
        Assert.Equal(1, RelaySelection.NextUsable(ordered, 0, holdDowns, Now.AddMinutes(3)));
        Assert.Equal(0, RelaySelection.NextUsable(ordered, 0, holdDowns, Now.AddMinutes(5)));
        Assert.Equal(-1, RelaySelection.NextUsable(ordered, 3, holdDowns, Now));
    }

    [Fact]
    public void A_shorter_hold_down_does_not_shorten_a_longer_one_and_prune_forgets_ended_ones()
    {
        var relay = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 2268);
        var holdDowns = RelayHoldDowns.None.Add(relay, Now.AddMinutes(10)).Add(relay, Now.AddMinutes(3));
        Assert.True(holdDowns.IsHeldDown(relay, Now.AddMinutes(9)));
        Assert.Empty(holdDowns.Prune(Now.AddMinutes(10)).Until);
        Assert.Single(holdDowns.Prune(Now.AddMinutes(9)).Until);
    }
}

public class RelayOverrideTableTests
{
    private static RelayOverride Entry(string text)
    {
        Assert.True(RelayOverrideTable.TryParseEntry(text, out var entry, out var error), error);
        return entry;
    }

    [Fact]
    public void Longest_prefix_wins()
    {
        var table = new RelayOverrideTable([Entry("10.0.0.0/8=10.0.9.1"), Entry("10.0.5.0/24=10.0.9.2:3000"), Entry("10.0.5.2/32=10.0.9.3")], consultBeforeDns: false);
        Assert.True(table.TryFind(IPAddress.Parse("10.0.5.2"), out var exact));
        Assert.Equal("10.0.9.3:2268", exact.ToString());
        Assert.True(table.TryFind(IPAddress.Parse("10.0.5.7"), out var mid));
        Assert.Equal("10.0.9.2:3000", mid.ToString());
        Assert.True(table.TryFind(IPAddress.Parse("10.200.0.1"), out var wide));
        Assert.Equal("10.0.9.1:2268", wide.ToString());
        Assert.False(table.TryFind(IPAddress.Parse("192.0.2.1"), out _));
    }

    [Fact]
    public void IPv6_prefixes_and_bracketed_relays_with_ports_parse()
    {
        var table = new RelayOverrideTable([Entry("2001:db8::/32=[2001:db8::9]:4000"), Entry("0.0.0.0/0=10.0.9.1")], consultBeforeDns: true);
        Assert.True(table.ConsultBeforeDns);
        Assert.True(table.TryFind(IPAddress.Parse("2001:db8::5"), out var relay));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::9"), 4000), relay);
        Assert.False(table.TryFind(IPAddress.Parse("2001:db9::5"), out _));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("10.0.5.0/24", "no '='")]
    [InlineData("10.0.5.0/33=10.0.9.1", "not a prefix")]
    [InlineData("10.0.5.0/24=relay.example", "not an address")]
    public void Bad_entries_say_what_is_wrong(string text, string expected)
    {
        Assert.False(RelayOverrideTable.TryParseEntry(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}

public class SourceMessageExtractorTests
{
    [Fact]
    public void Source_messages_go_to_the_entity_named_by_their_source_address()
    {
        var extractor = new SourceMessageExtractor(100);
        var source = IPAddress.Parse("10.0.5.2");
        Assert.Equal("10.0.5.2", extractor.EntityId(new SourceProtocol.EnsureGroups(source, [])));
        Assert.Equal("10.0.5.2", extractor.EntityId(new SourceProtocol.GetSourceStatus(source)));
        var status = new SourceProtocol.GetSourceStatus(source);
        var ensure = new SourceProtocol.EnsureGroups(source, []);
        Assert.Equal(extractor.ShardId(extractor.EntityId(status)!, status), extractor.ShardId(extractor.EntityId(ensure)!, ensure));
        Assert.Null(extractor.EntityId("not a source message"));
    }
}
