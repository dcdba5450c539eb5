using System.Net;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Tunnels;

/// <summary>The session's Updates on the wire: which MAC and nonce, how often, and Teardown after a NAT rebinding.</summary>
public sealed class AmtGatewaySessionUpdateTests
{
    private static readonly IPAddress Source = IPAddress.Parse("10.93.4.2");
    private static readonly IPAddress G1 = IPAddress.Parse("232.1.1.1");
    private static readonly IPAddress G2 = IPAddress.Parse("232.1.1.2");
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly GatewayOptions _options = new();
    private uint _nextNonce = 0x2000;

    private AmtGatewaySession Session() => new(Source, skipDiscovery: true, _options, _clock, () => _nextNonce++, new Random(11));

    private static IReadOnlyList<byte[]> SentOfType(IEnumerable<GatewayAction> actions, AmtMessageType type) =>
        actions.OfType<SendToRelay>().Where(s => s.Type == type).Select(s => s.Message).ToList();

    private static AmtMembershipUpdate Update(byte[] message)
    {
        Assert.True(AmtMembershipUpdate.TryRead(message, out var update, out var error), error.ToString());
        return update;
    }

    private static IgmpV3Report Report(AmtMembershipUpdate update)
    {
        Assert.True(IgmpV3Datagram.TryReadReport(update.EncapsulatedReport.Span, out var report, out var error), error.ToString());
        return report;
    }

    private static uint RequestNonce(IEnumerable<GatewayAction> actions)
    {
        Assert.True(AmtRequest.TryRead(Assert.Single(SentOfType(actions, AmtMessageType.Request)), out var request, out var error), error.ToString());
        return request.Nonce;
    }

    private static byte[] Query(uint nonce, ulong mac, byte qrv = 2, ushort? gatewayPort = null, IPAddress? gatewayAddress = null)
    {
        var igmp = new IgmpV3Query(16, IPAddress.Any, false, qrv, 20, []);
        var ip = new Ipv4HeaderBuilder { Ttl = 1, Protocol = 2, Source = 0, Destination = 0xE0000001 };
        var datagram = new byte[ip.Length + igmp.Length];
        ip.Write(datagram, igmp.Length);
        igmp.Write(datagram.AsSpan(ip.Length));
        var query = new AmtMembershipQuery(false, mac, nonce, datagram, gatewayPort, gatewayAddress);
        var bytes = new byte[query.Length];
        query.Write(bytes);
        return bytes;
    }

    [Fact]
    public void Pending_repeats_after_a_new_query_echo_the_new_mac_and_nonce()
    {
        var session = Session();
        uint first = RequestNonce(session.Start([G1]));
        var established = session.OnMessage(Query(first, mac: 0x111111111111, qrv: 3));
        Assert.Equal((0x111111111111UL, first), (Update(Assert.Single(SentOfType(established, AmtMessageType.MembershipUpdate))).ResponseMac, first));

        uint second = RequestNonce(session.OnTimer(GatewayTimer.Refresh));
        session.OnMessage(Query(second, mac: 0x222222222222, qrv: 3));

        // QRV 3: the ALLOW has two more copies to go, and they carry the latest query's pair.
        var repeat = Update(Assert.Single(SentOfType(session.OnTimer(GatewayTimer.UpdateRepeat), AmtMessageType.MembershipUpdate)));
        Assert.Equal((0x222222222222UL, second), (repeat.ResponseMac, repeat.Nonce));
        Assert.Equal(IgmpRecordType.AllowNewSources, Assert.Single(Report(repeat).Records).Type);
    }

    [Fact]
    public void Each_change_goes_qrv_times_from_the_query_and_no_more()
    {
        var session = Session();
        var actions = session.OnMessage(Query(RequestNonce(session.Start([G1])), mac: 5, qrv: 4)).ToList();
        int copies = SentOfType(actions, AmtMessageType.MembershipUpdate).Count;
        for (int i = 0; i < 10; i++)
        {
            var repeat = session.OnTimer(GatewayTimer.UpdateRepeat);
            copies += SentOfType(repeat, AmtMessageType.MembershipUpdate).Count;
            if (i < 2)
            {
                Assert.Contains(new ArmTimer(GatewayTimer.UpdateRepeat, TimeSpan.FromSeconds(1)), repeat);
            }
        }
        Assert.Equal(4, copies);
    }

    [Fact]
    public void Setting_the_same_groups_again_sends_nothing_and_keeps_the_repeats_spaced()
    {
        var session = Session();
        session.OnMessage(Query(RequestNonce(session.Start([G1])), mac: 5));

        Assert.Empty(session.SetGroups([G1]).OfType<SendToRelay>());

        // The second of the QRV = 2 copies is still due on the timer, not spent by the duplicate.
        var repeat = Update(Assert.Single(SentOfType(session.OnTimer(GatewayTimer.UpdateRepeat), AmtMessageType.MembershipUpdate)));
        Assert.Equal(G1, Assert.Single(Report(repeat).Records).Group);
    }

    [Fact]
    public void Report_datagram_is_igmpv3_from_0_0_0_0_with_router_alert()
    {
        var session = Session();
        var actions = session.OnMessage(Query(RequestNonce(session.Start([G1, G2])), mac: 5));
        var update = Update(Assert.Single(SentOfType(actions, AmtMessageType.MembershipUpdate)));
        Assert.True(Ipv4Header.TryRead(update.EncapsulatedReport.Span, out var ip, out var error), error.ToString());
        Assert.Equal((0u, 0xE0000016u, (byte)1, (byte)2, true), (ip.Source, ip.Destination, ip.Ttl, ip.Protocol, ip.HasRouterAlert));
        var report = Report(update);
        Assert.Equal(new[] { G1, G2 }.ToHashSet(), report.Records.Select(r => r.Group).ToHashSet());
        Assert.All(report.Records, r => Assert.Equal(Source, Assert.Single(r.Sources)));
    }

    [Fact]
    public void Every_request_carries_a_fresh_nonce_and_a_query_for_an_old_one_is_ignored()
    {
        var session = Session();
        uint first = RequestNonce(session.Start([G1]));
        session.OnMessage(Query(first, mac: 5));
        uint second = RequestNonce(session.OnTimer(GatewayTimer.Refresh));
        Assert.NotEqual(first, second);

        Assert.Empty(session.OnMessage(Query(first, mac: 6)));
        Assert.Equal((5UL, first), session.Credentials);
    }

    [Fact]
    public void A_query_after_rediscovery_gets_the_current_state()
    {
        var session = new AmtGatewaySession(Source, skipDiscovery: false, _options, _clock, () => _nextNonce++, new Random(11));
        Assert.True(AmtRelayDiscovery.TryRead(Assert.Single(SentOfType(session.Start([G1]), AmtMessageType.RelayDiscovery)), out var discovery, out _));
        var advertisement = new AmtRelayAdvertisement(discovery.Nonce, IPAddress.Parse("10.93.3.1"));
        var bytes = new byte[advertisement.Length];
        advertisement.Write(bytes);
        session.OnMessage(Query(RequestNonce(session.OnMessage(bytes)), mac: 5));
        session.OnTimer(GatewayTimer.UpdateRepeat);

        // The refresh Request goes unanswered until the session rediscovers.
        session.OnTimer(GatewayTimer.Refresh);
        IReadOnlyList<GatewayAction> actions = [];
        for (int i = 0; i < _options.RequestsBeforeRediscovery && session.State != GatewayState.Discovering; i++)
        {
            actions = session.OnTimer(GatewayTimer.Retransmit);
        }
        Assert.Equal(GatewayState.Discovering, session.State);
        Assert.True(AmtRelayDiscovery.TryRead(Assert.Single(SentOfType(actions, AmtMessageType.RelayDiscovery)), out discovery, out _));
        advertisement = advertisement with { Nonce = discovery.Nonce };
        advertisement.Write(bytes);

        var answer = session.OnMessage(Query(RequestNonce(session.OnMessage(bytes)), mac: 9));
        var current = Update(Assert.Single(SentOfType(answer, AmtMessageType.MembershipUpdate)));
        Assert.Equal(9UL, current.ResponseMac);
        Assert.Equal((IgmpRecordType.ModeIsInclude, G1), (Assert.Single(Report(current).Records).Type, Report(current).Records[0].Group));
    }

    [Fact]
    public void A_changed_gateway_address_in_a_g_query_sends_a_teardown_for_the_old_one_and_the_current_state()
    {
        var session = Session();
        var oldAddress = IPAddress.Parse("198.51.100.7");
        uint first = RequestNonce(session.Start([G1]));
        var established = session.OnMessage(Query(first, mac: 0xAAAAAAAAAAAA, gatewayPort: 40000, gatewayAddress: oldAddress));
        Assert.Empty(SentOfType(established, AmtMessageType.Teardown));

        // Same address and port again: nothing to tear down.
        uint second = RequestNonce(session.OnTimer(GatewayTimer.Refresh));
        Assert.Empty(SentOfType(session.OnMessage(Query(second, mac: 0xBBBBBBBBBBBB, gatewayPort: 40000, gatewayAddress: oldAddress)), AmtMessageType.Teardown));

        // The NAT rebound us: new port.
        uint third = RequestNonce(session.OnTimer(GatewayTimer.Refresh));
        var rebound = session.OnMessage(Query(third, mac: 0xCCCCCCCCCCCC, gatewayPort: 40001, gatewayAddress: oldAddress)).OfType<SendToRelay>().ToList();

        Assert.Equal([AmtMessageType.Teardown, AmtMessageType.MembershipUpdate], rebound.Select(s => s.Type));
        Assert.True(AmtTeardown.TryRead(rebound[0].Message, out var teardown, out var error), error.ToString());
        Assert.Equal(new AmtTeardown(0xBBBBBBBBBBBB, second, 40000, oldAddress), teardown);
        var current = Update(rebound[1].Message);
        Assert.Equal((0xCCCCCCCCCCCCUL, third), (current.ResponseMac, current.Nonce));
        Assert.Equal(IgmpRecordType.ModeIsInclude, Assert.Single(Report(current).Records).Type);
    }
}
