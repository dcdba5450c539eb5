using System.Buffers.Binary;
using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Igmp;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Lab.Tests;

/// <summary>
/// The lab relay as a real process (with the lab source feeding it natively) against a fake gateway: discovery,
/// request/query, verified updates, data after ALLOW, no data after BLOCK, and rejection of a wrong MAC.
/// </summary>
public sealed class AmtRelayTests(RelayLab lab) : IClassFixture<RelayLab>
{
    private static readonly TimeSpan Reply = TimeSpan.FromSeconds(5);

    [Fact]
    public void Discovery_is_answered_with_an_advertisement_that_echoes_the_nonce_and_names_the_relay()
    {
        using var gateway = lab.NewGateway();
        var nonce = FakeGateway.NewNonce();

        gateway.SendDiscovery(nonce);

        var reply = gateway.ReceiveControl(Reply);
        Assert.True(AmtRelayAdvertisement.TryRead(reply, out var advertisement, out var error), error.Message);
        Assert.Equal(nonce, advertisement.Nonce);
        Assert.Equal(RelayLab.RelayAddress, advertisement.RelayAddress);
    }

    [Fact]
    public void Request_is_answered_with_a_query_carrying_the_hmac_and_an_igmpv3_general_query()
    {
        using var gateway = lab.NewGateway();
        var nonce = FakeGateway.NewNonce();

        gateway.SendRequest(nonce);

        var query = ReadQuery(gateway.ReceiveControl(Reply));
        Assert.Equal(nonce, query.Nonce);
        Assert.Equal(ExpectedMac(gateway, nonce), query.ResponseMac);
        Assert.False(query.LimitedCapacity);
        Assert.Equal(gateway.LocalEndPoint.Address, query.GatewayAddress);
        Assert.Equal((ushort)gateway.LocalEndPoint.Port, query.GatewayPort);

        var inner = query.EncapsulatedQuery.Span;
        Assert.True(Ipv4Header.TryRead(inner, out var header, out var error), error.Message);
        Assert.Equal(24, header.HeaderLength);
        Assert.True(header.HasRouterAlert);
        Assert.Equal(1, header.Ttl);
        Assert.Equal(2, header.Protocol);
        Assert.True(IgmpV3Datagram.TryReadQuery(inner, out var igmp, out error), error.Message);
        Assert.True(igmp.IsGeneral);
        Assert.Equal(100, igmp.MaxRespCode);
        Assert.Equal(2, igmp.Qrv);
        Assert.Equal(20, igmp.Qqic);
        Assert.Empty(igmp.Sources);
    }

    [Fact]
    public void Data_arrives_after_allow_and_stops_after_block()
    {
        using var gateway = lab.NewGateway();
        var (mac, nonce) = Handshake(gateway);

        gateway.SendUpdate(mac, nonce, Record(IgmpRecordType.AllowNewSources));

        var data = gateway.ReceiveData(TimeSpan.FromSeconds(10));
        Assert.NotNull(data);
        Assert.True(AmtMulticastData.TryRead(data, out var error), error.Message);
        var datagram = data.AsSpan(AmtMulticastData.HeaderLength);
        Assert.True(Ipv4Header.TryRead(datagram, out var header, out error), error.Message);
        Assert.Equal(Ipv4Header.FromAddress(RelayLab.Source), header.Source);
        Assert.Equal(Ipv4Header.FromAddress(RelayLab.Group), header.Destination);
        Assert.Equal(17, header.Protocol);
        Assert.Equal(RelayLab.SourceTtl, header.Ttl);
        Assert.Equal(datagram.Length, header.TotalLength);
        var udp = datagram[header.HeaderLength..];
        Assert.Equal(RelayLab.Port, BinaryPrimitives.ReadUInt16BigEndian(udp[2..]));
        Assert.Equal(8 + 200, BinaryPrimitives.ReadUInt16BigEndian(udp[4..]));
        // More packets keep coming, with increasing lab sequence numbers.
        var second = gateway.ReceiveData(TimeSpan.FromSeconds(5));
        Assert.NotNull(second);
        Assert.True(Sequence(second) > Sequence(data));

        gateway.SendUpdate(mac, nonce, Record(IgmpRecordType.BlockOldSources));
        lab.Relay.WaitFor("leave", l => l.GetProperty("gateway").GetString() == gateway.Name);

        Assert.True(gateway.WaitForDataToStop(quiet: TimeSpan.FromSeconds(1), deadline: TimeSpan.FromSeconds(5)),
            "Multicast Data kept arriving after BLOCK");
    }

    [Fact]
    public void Update_with_a_wrong_mac_is_rejected_and_joins_nothing()
    {
        using var gateway = lab.NewGateway();
        var (mac, nonce) = Handshake(gateway);

        gateway.SendUpdate(mac ^ 0x1, nonce, Record(IgmpRecordType.AllowNewSources));

        var rejected = lab.Relay.WaitFor("rejected", l => l.GetProperty("gateway").GetString() == gateway.Name);
        Assert.Equal("bad_mac", rejected.GetProperty("reason").GetString());
        // The control loop handles one message at a time: once the rejection is printed, the update is done.
        Assert.DoesNotContain(lab.Relay.Events("join"), l => l.GetProperty("gateway").GetString() == gateway.Name);
        Assert.DoesNotContain(lab.Relay.Events("tunnel-up"), l => l.GetProperty("gateway").GetString() == gateway.Name);
        Assert.Null(gateway.ReceiveData(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public void Update_echoing_a_nonce_the_relay_never_issued_is_rejected_even_with_its_mac()
    {
        using var gateway = lab.NewGateway();
        Handshake(gateway);
        var forged = FakeGateway.NewNonce();

        gateway.SendUpdate(ExpectedMac(gateway, forged), forged, Record(IgmpRecordType.AllowNewSources));

        var rejected = lab.Relay.WaitFor("rejected", l => l.GetProperty("gateway").GetString() == gateway.Name);
        Assert.Equal("unknown_nonce", rejected.GetProperty("reason").GetString());
        Assert.DoesNotContain(lab.Relay.Events("join"), l => l.GetProperty("gateway").GetString() == gateway.Name);
    }

    [Fact]
    public void Relay_status_lines_count_tunnels_and_forwarded_packets()
    {
        using var gateway = lab.NewGateway();
        var (mac, nonce) = Handshake(gateway);
        var before = lab.Relay.LineCount;
        gateway.SendUpdate(mac, nonce, Record(IgmpRecordType.ModeIsInclude));
        Assert.NotNull(gateway.ReceiveData(TimeSpan.FromSeconds(10)));
        lab.Relay.WaitFor("join", l => l.GetProperty("gateway").GetString() == gateway.Name, skip: before);
        var joinedAt = lab.Relay.LineCount;
        var first = lab.Relay.WaitFor("status", skip: joinedAt);
        var firstAt = lab.Relay.LineCount;

        Assert.True(first.GetProperty("tunnels").GetInt32() >= 1);
        Assert.True(first.GetProperty("channels").GetInt32() >= 1);
        Assert.True(first.GetProperty("joins").GetInt32() >= 1);
        var forwarded = first.GetProperty("forwarded").GetInt64();
        var later = lab.Relay.WaitFor("status", l => l.GetProperty("forwarded").GetInt64() > forwarded + 300, skip: firstAt);
        // No per-packet allocation on the data thread: its whole lifetime's allocation (JIT warm-up, a few hundred
        // bytes) stays under what 300 packets would cost at even 16 bytes each.
        Assert.InRange(later.GetProperty("dataPathAllocatedBytes").GetInt64(), 0, 300 * 16);

        // IS_INCLUDE {} leaves the group.
        gateway.SendUpdate(mac, nonce, new IgmpV3GroupRecord(IgmpRecordType.ModeIsInclude, RelayLab.Group, []));
        lab.Relay.WaitFor("leave", l => l.GetProperty("gateway").GetString() == gateway.Name);
        Assert.True(gateway.WaitForDataToStop(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)));
    }

    private static (ulong Mac, uint Nonce) Handshake(FakeGateway gateway)
    {
        var nonce = FakeGateway.NewNonce();
        gateway.SendRequest(nonce);
        var query = ReadQuery(gateway.ReceiveControl(Reply));
        Assert.Equal(nonce, query.Nonce);
        return (query.ResponseMac, query.Nonce);
    }

    private static AmtMembershipQuery ReadQuery(byte[] message)
    {
        Assert.True(AmtMembershipQuery.TryRead(message, out var query, out var error), error.Message);
        return query;
    }

    private static IgmpV3GroupRecord Record(IgmpRecordType type) => new(type, RelayLab.Group, [RelayLab.Source]);

    /// <summary>RFC 7450 §5.3.5, computed here independently of the relay: the first 48 bits of
    /// HMAC-SHA256(secret, nonce | gateway address | gateway port).</summary>
    private static ulong ExpectedMac(FakeGateway gateway, uint nonce)
    {
        var input = new byte[10];
        BinaryPrimitives.WriteUInt32BigEndian(input, nonce);
        gateway.LocalEndPoint.Address.TryWriteBytes(input.AsSpan(4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(8), (ushort)gateway.LocalEndPoint.Port);
        var hash = System.Security.Cryptography.HMACSHA256.HashData(RelayLab.Secret, input);
        return BinaryPrimitives.ReadUInt64BigEndian(hash) >> 16;
    }

    private static ulong Sequence(byte[] data)
    {
        var datagram = data.AsSpan(AmtMulticastData.HeaderLength);
        Assert.True(Ipv4Header.TryRead(datagram, out var header, out _));
        Assert.True(LabPayload.TryRead(datagram[(header.HeaderLength + 8)..], out var sequence, out _));
        return sequence;
    }

}
