using System.Net;
using IngestCluster.Node.Demand;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Pim;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Demand;

public sealed class DemandTableTests
{
    private static readonly IPAddress Us = IPAddress.Parse("10.91.2.2");
    private static readonly SourceGroup Flow = new(IPAddress.Parse("10.91.4.2"), IPAddress.Parse("232.1.1.1"));
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly List<IgnoredEntry> _ignored = [];
    private readonly DemandTable _table;

    public DemandTableTests() =>
        _table = new DemandTable(_clock, [IPNetwork.Parse("232.0.0.0/8")], TimeSpan.FromSeconds(3));

    private static PimJoinPrune Message(ushort holdtime, IEnumerable<PimEncodedSource> joined, IEnumerable<PimEncodedSource> pruned, string group = "232.1.1.1") =>
        new(Us, holdtime, [new(new PimEncodedGroup(IPAddress.Parse(group), 32), [.. joined], [.. pruned])]);

    private static PimJoinPrune Join(ushort holdtime = 210) => Message(holdtime, [PimEncodedSource.Ssm(Flow.Source)], []);

    private static PimJoinPrune Prune() => Message(210, [], [PimEncodedSource.Ssm(Flow.Source)]);

    private IReadOnlyList<DemandChange> Apply(PimJoinPrune message, bool otherNeighbors = false) =>
        _table.Apply(message, otherNeighbors, _ignored.Add);

    [Fact]
    public void A_join_makes_the_channel_joined_once_and_duplicates_change_nothing()
    {
        Assert.Equal([new DemandChange(Flow, true)], Apply(Join()));
        Assert.Empty(Apply(Join()));
        Assert.Equal(DownstreamState.Join, _table.StateOf(Flow));
        Assert.Equal([Flow], _table.Joined);
    }

    [Fact]
    public void The_join_expires_after_its_holdtime_unless_refreshed()
    {
        Apply(Join());
        _clock.Advance(TimeSpan.FromSeconds(200));
        Apply(Join()); // the routers' 60 s refresh
        _clock.Advance(TimeSpan.FromSeconds(200));
        Assert.Empty(_table.Expire());

        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([new DemandChange(Flow, false)], _table.Expire());
        Assert.Equal(DownstreamState.NoInfo, _table.StateOf(Flow));
    }

    [Fact]
    public void A_holdtime_of_0xffff_never_expires()
    {
        Apply(Join(ushort.MaxValue));
        _clock.Advance(TimeSpan.FromDays(30));
        Assert.Empty(_table.Expire());
    }

    [Fact]
    public void A_prune_with_no_other_router_on_the_lan_leaves_at_once()
    {
        Apply(Join());
        Assert.Equal([new DemandChange(Flow, false)], Apply(Prune()));
    }

    [Fact]
    public void A_prune_with_other_routers_waits_the_override_interval()
    {
        Apply(Join());
        Assert.Empty(Apply(Prune(), otherNeighbors: true));
        Assert.Equal(DownstreamState.PrunePending, _table.StateOf(Flow));

        _clock.Advance(TimeSpan.FromSeconds(2.9));
        Assert.Empty(_table.Expire());
        _clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal([new DemandChange(Flow, false)], _table.Expire());
    }

    [Fact]
    public void A_join_during_the_override_interval_keeps_the_channel()
    {
        Apply(Join());
        Apply(Prune(), otherNeighbors: true);
        Assert.Empty(Apply(Join(), otherNeighbors: true));
        Assert.Equal(DownstreamState.Join, _table.StateOf(Flow));

        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(_table.Expire());
    }

    [Fact]
    public void A_prune_for_a_channel_we_do_not_have_changes_nothing()
    {
        Assert.Empty(Apply(Prune()));
        Assert.Empty(_table.Joined);
    }

    [Fact]
    public void A_join_with_holdtime_0_acts_as_a_prune()
    {
        Apply(Join());
        Assert.Equal([new DemandChange(Flow, false)], Apply(Join(holdtime: 0)));
    }

    [Fact]
    public void Groups_outside_the_ssm_ranges_are_counted_and_ignored()
    {
        Assert.Empty(Apply(Message(210, [PimEncodedSource.Ssm(Flow.Source)], [], group: "239.1.1.1")));
        Assert.Equal([IgnoredEntry.NonSsm], _ignored);
        Assert.Empty(_table.Joined);
    }

    [Fact]
    public void Wildcard_rpt_and_non_sparse_entries_are_not_source_specific()
    {
        var source = Flow.Source;
        Apply(Message(210,
            [new PimEncodedSource(source, 32, Sparse: true, Wildcard: true, Rpt: true),
             new PimEncodedSource(source, 32, Sparse: false),
             new PimEncodedSource(source, 32, Sparse: true, Rpt: true)],
            []));
        Assert.Equal([IgnoredEntry.NotSourceSpecific, IgnoredEntry.NotSourceSpecific, IgnoredEntry.NotSourceSpecific], _ignored);
        Assert.Empty(_table.Joined);
    }

    [Fact]
    public void A_source_mask_shorter_than_a_host_is_ignored()
    {
        Apply(Message(210, [new PimEncodedSource(Flow.Source, 24)], []));
        Assert.Equal([IgnoredEntry.NotHostMask], _ignored);
    }

    [Fact]
    public void Ipv6_channels_are_kept_like_ipv4_ones()
    {
        var table = new DemandTable(_clock, [IPNetwork.Parse("ff3e::/16")], TimeSpan.FromSeconds(3));
        var message = new PimJoinPrune(IPAddress.Parse("fe80::2"), 210,
            [new(new PimEncodedGroup(IPAddress.Parse("ff3e::8000:1"), 128), [PimEncodedSource.Ssm(IPAddress.Parse("2001:db8::12"))], [])]);

        var change = Assert.Single(table.Apply(message, false, _ignored.Add));
        Assert.Equal(new SourceGroup(IPAddress.Parse("2001:db8::12"), IPAddress.Parse("ff3e::8000:1")), change.Flow);
    }
}

public sealed class PimNeighborTableTests
{
    private static readonly IPAddress Router = IPAddress.Parse("10.91.2.1");
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));

    private static PimHello Hello(uint generationId, ushort holdtime = 105) => new() { HoldtimeSeconds = holdtime, GenerationId = generationId, DrPriority = 1 };

    [Fact]
    public void A_router_is_new_then_refreshed_then_restarted_when_its_generation_id_changes()
    {
        var table = new PimNeighborTable(_clock);
        Assert.Equal(NeighborEvent.New, table.OnHello(Router, Hello(1)));
        Assert.Equal(NeighborEvent.Refreshed, table.OnHello(Router, Hello(1)));
        Assert.Equal(NeighborEvent.Restarted, table.OnHello(Router, Hello(2)));
        Assert.Equal(2u, Assert.Single(table.Neighbors).GenerationId);
    }

    [Fact]
    public void A_goodbye_removes_the_router_at_once()
    {
        var table = new PimNeighborTable(_clock);
        table.OnHello(Router, Hello(1));
        Assert.Equal(NeighborEvent.Goodbye, table.OnHello(Router, Hello(1, holdtime: 0)));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void A_router_expires_after_its_holdtime_and_0xffff_never_does()
    {
        var table = new PimNeighborTable(_clock);
        table.OnHello(Router, Hello(1));
        var forever = IPAddress.Parse("10.91.2.9");
        table.OnHello(forever, Hello(5, ushort.MaxValue));

        _clock.Advance(TimeSpan.FromSeconds(104));
        Assert.Empty(table.Expire());
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Router, Assert.Single(table.Expire()).Address);
        Assert.True(table.Contains(forever));
    }
}
