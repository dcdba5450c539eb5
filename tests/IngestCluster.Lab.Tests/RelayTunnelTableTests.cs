using System.Net;
using IngestCluster.Protocols.Igmp;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Lab.Tests;

public sealed class RelayTunnelTableTests
{
    private static readonly byte[] Secret = [1, 2, 3, 4, 5, 6, 7, 8];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(50);
    private static readonly GatewayEndpoint GatewayA = new(0x0ACB0202, 40000);
    private static readonly GatewayEndpoint GatewayB = new(0x0ACB0203, 40001);
    private static readonly IPAddress S1 = IPAddress.Parse("10.203.1.1");
    private static readonly IPAddress S2 = IPAddress.Parse("10.203.1.9");
    private static readonly IPAddress G = IPAddress.Parse("232.3.3.3");

    private readonly FakeTimeProvider _time = new();

    private RelayTunnelTable NewTable(int maxTunnels = 10) => new(Secret, Timeout, maxTunnels, _time);

    private static IgmpV3Report Report(IgmpRecordType type, params IPAddress[] sources) => new([new IgmpV3GroupRecord(type, G, sources)]);

    private static Channel Channel(IPAddress source) => new(NetworkInterfaces.ToUInt32(source), NetworkInterfaces.ToUInt32(G));

    [Fact]
    public void Update_with_the_issued_mac_and_nonce_creates_a_tunnel_and_joins_upstream_once()
    {
        var table = NewTable();
        var macA = table.IssueQuery(GatewayA, 7);
        var macB = table.IssueQuery(GatewayB, 8);

        var first = new RelayChanges();
        Assert.Equal(RelayRejection.None, table.ApplyUpdate(GatewayA, macA, 7, Report(IgmpRecordType.AllowNewSources, S1), first));
        var second = new RelayChanges();
        Assert.Equal(RelayRejection.None, table.ApplyUpdate(GatewayB, macB, 8, Report(IgmpRecordType.AllowNewSources, S1), second));

        Assert.Equal([GatewayA], first.TunnelsCreated);
        Assert.Equal([Channel(S1)], first.UpstreamJoins);
        Assert.Empty(second.UpstreamJoins);
        Assert.Equal(2, table.TunnelCount);
        Assert.Equal(1, table.ChannelCount);
        Assert.Equal([GatewayA, GatewayB], table.Forwarding[Channel(S1).Key].OrderBy(g => g.Port));
    }

    [Fact]
    public void Mac_that_does_not_match_is_rejected_and_changes_nothing()
    {
        var table = NewTable();
        var mac = table.IssueQuery(GatewayA, 7);
        var changes = new RelayChanges();

        Assert.Equal(RelayRejection.BadMac, table.ApplyUpdate(GatewayA, mac ^ 0x800000000000, 7, Report(IgmpRecordType.AllowNewSources, S1), changes));
        // The same MAC from another gateway port is not valid either: the MAC covers the port.
        Assert.Equal(RelayRejection.BadMac, table.ApplyUpdate(GatewayA with { Port = 40002 }, mac, 7, Report(IgmpRecordType.AllowNewSources, S1), changes));

        Assert.Equal(0, table.TunnelCount);
        Assert.Empty(changes.UpstreamJoins);
        Assert.Empty(table.Forwarding);
    }

    [Fact]
    public void Nonce_older_than_the_previous_query_is_rejected_but_the_previous_one_is_accepted()
    {
        var table = NewTable();
        var mac1 = table.IssueQuery(GatewayA, 1);
        var mac2 = table.IssueQuery(GatewayA, 2);
        table.IssueQuery(GatewayA, 3);

        Assert.Equal(RelayRejection.UnknownNonce, table.ApplyUpdate(GatewayA, mac1, 1, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges()));
        Assert.Equal(RelayRejection.None, table.ApplyUpdate(GatewayA, mac2, 2, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges()));
    }

    [Fact]
    public void Block_leaves_and_the_last_leave_leaves_upstream()
    {
        var table = NewTable();
        var mac = table.IssueQuery(GatewayA, 7);
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.AllowNewSources, S1, S2), new RelayChanges());

        var changes = new RelayChanges();
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.BlockOldSources, S1), changes);

        Assert.Equal([Channel(S1)], changes.UpstreamLeaves);
        Assert.Equal([Channel(S2)], table.ChannelsOf(GatewayA));
        Assert.False(table.Forwarding.ContainsKey(Channel(S1).Key));
        Assert.True(table.Forwarding.ContainsKey(Channel(S2).Key));
    }

    [Fact]
    public void Is_include_replaces_the_groups_sources_and_an_empty_one_leaves_the_group()
    {
        var table = NewTable();
        var mac = table.IssueQuery(GatewayA, 7);
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges());

        var replace = new RelayChanges();
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.ModeIsInclude, S2), replace);
        Assert.Equal([Channel(S1)], replace.UpstreamLeaves);
        Assert.Equal([Channel(S2)], replace.UpstreamJoins);

        var empty = new RelayChanges();
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.ModeIsInclude), empty);
        Assert.Equal([Channel(S2)], empty.UpstreamLeaves);
        Assert.Equal(0, table.ChannelCount);
    }

    [Fact]
    public void Exclude_records_are_ignored_and_counted()
    {
        var table = NewTable();
        var mac = table.IssueQuery(GatewayA, 7);
        var changes = new RelayChanges();

        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.ChangeToExclude), changes);

        Assert.Equal(1, changes.IgnoredRecords);
        Assert.Equal(0, table.ChannelCount);
    }

    [Fact]
    public void Tunnel_not_refreshed_within_the_timeout_expires_with_its_joins()
    {
        var table = NewTable();
        var mac = table.IssueQuery(GatewayA, 7);
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges());

        _time.Advance(Timeout - TimeSpan.FromSeconds(1));
        var early = new RelayChanges();
        table.Expire(early);
        Assert.Empty(early.TunnelsExpired);

        // A valid update refreshes it.
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.ModeIsInclude, S1), new RelayChanges());
        _time.Advance(Timeout - TimeSpan.FromSeconds(1));
        var refreshed = new RelayChanges();
        table.Expire(refreshed);
        Assert.Empty(refreshed.TunnelsExpired);

        _time.Advance(TimeSpan.FromSeconds(1));
        var late = new RelayChanges();
        table.Expire(late);
        Assert.Equal([GatewayA], late.TunnelsExpired);
        Assert.Equal([Channel(S1)], late.UpstreamLeaves);
        Assert.Equal(0, table.TunnelCount);
        Assert.Empty(table.Forwarding);
    }

    [Fact]
    public void New_tunnel_beyond_the_maximum_is_refused_and_the_query_says_limited()
    {
        var table = NewTable(maxTunnels: 1);
        var macA = table.IssueQuery(GatewayA, 1);
        table.ApplyUpdate(GatewayA, macA, 1, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges());
        var macB = table.IssueQuery(GatewayB, 2);

        Assert.True(table.AtCapacity(GatewayB));
        Assert.False(table.AtCapacity(GatewayA));
        Assert.Equal(RelayRejection.Capacity, table.ApplyUpdate(GatewayB, macB, 2, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges()));
        Assert.Equal(1, table.TunnelCount);
    }

    [Fact]
    public void Verified_teardown_removes_the_tunnel()
    {
        var table = NewTable();
        var mac = table.IssueQuery(GatewayA, 7);
        table.ApplyUpdate(GatewayA, mac, 7, Report(IgmpRecordType.AllowNewSources, S1), new RelayChanges());

        Assert.Equal(RelayRejection.None, table.Verify(GatewayA, mac, 7));
        var changes = new RelayChanges();
        Assert.True(table.Remove(GatewayA, changes));

        Assert.Equal([Channel(S1)], changes.UpstreamLeaves);
        Assert.Equal(0, table.TunnelCount);
    }
}
