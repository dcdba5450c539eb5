using System.Net;
using IngestCluster.Node.Tunnels;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;
using Microsoft.Extensions.Time.Testing;

namespace IngestCluster.Node.Tests.Tunnels;

public sealed class AmtGatewaySessionTests
{
    private static readonly IPAddress Source = IPAddress.Parse("10.91.4.2");
    private static readonly IPAddress G1 = IPAddress.Parse("232.1.1.1");
    private static readonly IPAddress G2 = IPAddress.Parse("232.1.1.2");
    private const ulong Mac = 0x0000_A1B2_C3D4_E5F6;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly GatewayOptions _options = new();
    private uint _nextNonce = 0x1000;

    private AmtGatewaySession Session(bool skipDiscovery = false) =>
        new(Source, skipDiscovery, _options, _clock, () => _nextNonce++, new Random(7));

    private static T Sent<T>(IEnumerable<GatewayAction> actions, AmtMessageType type) =>
        Decode<T>(actions.OfType<SendToRelay>().Single(s => s.Type == type).Message);

    private static T Decode<T>(byte[] message) => message[0] switch
    {
        1 => AmtRelayDiscovery.TryRead(message, out var d, out var e1) ? (T)(object)d : throw new InvalidDataException(e1.ToString()),
        3 => AmtRequest.TryRead(message, out var r, out var e3) ? (T)(object)r : throw new InvalidDataException(e3.ToString()),
        5 => AmtMembershipUpdate.TryRead(message, out var u, out var e5) ? (T)(object)u! : throw new InvalidDataException(e5.ToString()),
        _ => throw new InvalidDataException($"unexpected type {message[0]}"),
    };

    private static byte[] Advertisement(uint nonce)
    {
        var message = new AmtRelayAdvertisement(nonce, IPAddress.Parse("10.91.3.1"));
        var bytes = new byte[message.Length];
        message.Write(bytes);
        return bytes;
    }

    private static byte[] Query(uint nonce, bool limited = false, byte qqic = 20, byte qrv = 2)
    {
        var igmp = new IgmpV3Query(100, IPAddress.Any, false, qrv, qqic, []);
        var ip = new Ipv4HeaderBuilder { Ttl = 1, Protocol = 2, Tos = 0xC0, Source = 0x0A5B0301, Destination = 0xE0000001 };
        var datagram = new byte[ip.Length + igmp.Length];
        ip.Write(datagram, igmp.Length);
        igmp.Write(datagram.AsSpan(ip.Length));
        var query = new AmtMembershipQuery(limited, Mac, nonce, datagram, null, null);
        var bytes = new byte[query.Length];
        query.Write(bytes);
        return bytes;
    }

    private static IgmpV3Report Report(AmtMembershipUpdate update)
    {
        Assert.True(IgmpV3Datagram.TryReadReport(update.EncapsulatedReport.Span, out var report, out var error), error.ToString());
        return report;
    }

    /// <summary>Drives a session through discovery, request and the first query.</summary>
    private (AmtGatewaySession Session, IReadOnlyList<GatewayAction> QueryActions) Established(params IPAddress[] groups)
    {
        var session = Session();
        var discovery = Sent<AmtRelayDiscovery>(session.Start(groups), AmtMessageType.RelayDiscovery);
        var request = Sent<AmtRequest>(session.OnMessage(Advertisement(discovery.Nonce)), AmtMessageType.Request);
        return (session, session.OnMessage(Query(request.Nonce)));
    }

    [Fact]
    public void Start_sends_a_discovery_and_only_an_advertisement_with_its_nonce_leads_to_a_request()
    {
        var session = Session();
        var discovery = Sent<AmtRelayDiscovery>(session.Start([G1]), AmtMessageType.RelayDiscovery);
        Assert.Equal(GatewayState.Discovering, session.State);

        Assert.Empty(session.OnMessage(Advertisement(discovery.Nonce + 1)));
        Assert.Equal(GatewayState.Discovering, session.State);

        var actions = session.OnMessage(Advertisement(discovery.Nonce));
        var request = Sent<AmtRequest>(actions, AmtMessageType.Request);
        Assert.False(request.MldRequested);
        Assert.NotEqual(discovery.Nonce, request.Nonce);
        Assert.Equal(GatewayState.Requesting, session.State);
    }

    [Fact]
    public void The_d_bit_skips_discovery()
    {
        var session = Session(skipDiscovery: true);
        var actions = session.Start([G1]);
        Sent<AmtRequest>(actions, AmtMessageType.Request);
        Assert.DoesNotContain(actions.OfType<SendToRelay>(), s => s.Type == AmtMessageType.RelayDiscovery);
    }

    [Fact]
    public void The_first_query_establishes_the_tunnel_and_allow_echoes_its_mac_and_nonce()
    {
        var (session, actions) = Established(G1);

        Assert.Equal(GatewayState.Established, session.State);
        var update = Sent<AmtMembershipUpdate>(actions, AmtMessageType.MembershipUpdate);
        Assert.Equal(Mac, update.ResponseMac);
        Assert.Equal(session.Credentials!.Value.Nonce, update.Nonce);
        var record = Assert.Single(Report(update).Records);
        Assert.Equal(IgmpRecordType.AllowNewSources, record.Type);
        Assert.Equal(G1, record.Group);
        Assert.Equal(Source, Assert.Single(record.Sources));
        // QRV 2: one more copy about 1 s later.
        Assert.Contains(new ArmTimer(GatewayTimer.UpdateRepeat, TimeSpan.FromSeconds(1)), actions);
        Sent<AmtMembershipUpdate>(session.OnTimer(GatewayTimer.UpdateRepeat), AmtMessageType.MembershipUpdate);
        Assert.Empty(session.OnTimer(GatewayTimer.UpdateRepeat));
    }

    [Fact]
    public void The_next_request_is_scheduled_at_the_query_interval_from_qqic()
    {
        var (_, actions) = Established(G1);
        Assert.Contains(new ArmTimer(GatewayTimer.Refresh, TimeSpan.FromSeconds(20)), actions);
    }

    [Fact]
    public void No_update_is_sent_before_a_query_gave_a_mac()
    {
        var session = Session();
        session.Start([]);
        Assert.Empty(session.SetGroups([G1]).OfType<SendToRelay>());
    }

    [Fact]
    public void A_query_with_a_stale_nonce_is_ignored()
    {
        var session = Session();
        var discovery = Sent<AmtRelayDiscovery>(session.Start([G1]), AmtMessageType.RelayDiscovery);
        var request = Sent<AmtRequest>(session.OnMessage(Advertisement(discovery.Nonce)), AmtMessageType.Request);

        Assert.Empty(session.OnMessage(Query(request.Nonce ^ 0xFFFF)));
        Assert.Equal(GatewayState.Requesting, session.State);
        Assert.Null(session.Credentials);
    }

    [Fact]
    public void The_l_flag_gives_up_the_relay_with_the_loaded_hold_down()
    {
        var session = Session();
        var discovery = Sent<AmtRelayDiscovery>(session.Start([G1]), AmtMessageType.RelayDiscovery);
        var request = Sent<AmtRequest>(session.OnMessage(Advertisement(discovery.Nonce)), AmtMessageType.Request);

        var actions = session.OnMessage(Query(request.Nonce, limited: true));

        var gaveUp = Assert.Single(actions.OfType<GatewayGaveUp>());
        Assert.Equal(TimeSpan.FromMinutes(10), gaveUp.HoldDown);
        Assert.Equal(GatewayState.Failed, session.State);
        Assert.Empty(actions.OfType<SendToRelay>());
    }

    [Fact]
    public void Leaving_a_group_sends_block_qrv_times_and_a_periodic_query_gets_the_current_state()
    {
        var (session, _) = Established(G1, G2);
        session.OnTimer(GatewayTimer.UpdateRepeat);

        var leave = session.SetGroups([G2]);
        var block = Assert.Single(Report(Sent<AmtMembershipUpdate>(leave, AmtMessageType.MembershipUpdate)).Records);
        Assert.Equal((IgmpRecordType.BlockOldSources, G1), (block.Type, block.Group));
        Sent<AmtMembershipUpdate>(session.OnTimer(GatewayTimer.UpdateRepeat), AmtMessageType.MembershipUpdate);

        var refresh = Sent<AmtRequest>(session.OnTimer(GatewayTimer.Refresh), AmtMessageType.Request);
        var answer = Sent<AmtMembershipUpdate>(session.OnMessage(Query(refresh.Nonce)), AmtMessageType.MembershipUpdate);
        var current = Assert.Single(Report(answer).Records);
        Assert.Equal((IgmpRecordType.ModeIsInclude, G2), (current.Type, current.Group));
    }

    [Fact]
    public void A_relay_that_never_answers_is_given_up_after_bounded_backoff_with_a_hold_down()
    {
        var session = Session();
        var actions = session.Start([G1]).ToList();
        var delays = new List<TimeSpan>();
        for (int i = 0; i < 10 && session.State != GatewayState.Failed; i++)
        {
            delays.AddRange(actions.OfType<ArmTimer>().Where(a => a.Timer == GatewayTimer.Retransmit).Select(a => a.Delay));
            actions = [.. session.OnTimer(GatewayTimer.Retransmit)];
        }

        var gaveUp = Assert.Single(actions.OfType<GatewayGaveUp>());
        Assert.InRange(gaveUp.HoldDown, TimeSpan.FromMinutes(3), TimeSpan.FromMinutes(10));
        Assert.Equal(_options.MaxUnansweredAttempts, delays.Count);
        for (int n = 0; n < delays.Count; n++)
        {
            Assert.InRange(delays[n], TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(Math.Min(Math.Pow(2, n + 1), 120)));
        }
    }

    [Fact]
    public void No_data_after_a_join_gives_up_and_data_keeps_the_tunnel()
    {
        var (session, actions) = Established(G1);
        Assert.Contains(new ArmTimer(GatewayTimer.NoDataCheck, _options.NoDataTimeout), actions);

        _clock.Advance(TimeSpan.FromSeconds(10));
        var stillAlive = session.OnTimer(GatewayTimer.NoDataCheck, _clock.GetUtcNow().AddSeconds(-2));
        Assert.Empty(stillAlive.OfType<GatewayGaveUp>());
        Assert.Contains(new ArmTimer(GatewayTimer.NoDataCheck, TimeSpan.FromSeconds(8)), stillAlive);

        _clock.Advance(TimeSpan.FromSeconds(8));
        var dead = session.OnTimer(GatewayTimer.NoDataCheck, _clock.GetUtcNow().AddSeconds(-10));
        Assert.Single(dead.OfType<GatewayGaveUp>());
        Assert.Equal(GatewayState.Failed, session.State);
    }

    [Fact]
    public void Stopping_blocks_every_announced_group()
    {
        var (session, _) = Established(G1, G2);

        var records = Report(Sent<AmtMembershipUpdate>(session.Stop(), AmtMessageType.MembershipUpdate)).Records;

        Assert.All(records, r => Assert.Equal(IgmpRecordType.BlockOldSources, r.Type));
        Assert.Equal(new[] { G1, G2 }.ToHashSet(), records.Select(r => r.Group).ToHashSet());
        Assert.Equal(GatewayState.Stopped, session.State);
    }
}
