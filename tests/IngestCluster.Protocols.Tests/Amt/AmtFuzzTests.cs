using System.Net;
using IngestCluster.Protocols.Amt;

namespace IngestCluster.Protocols.Tests.Amt;

public class AmtFuzzTests
{
    private static byte[] Bytes(int length, Func<Span<byte>, int> write)
    {
        var buffer = new byte[length];
        write(buffer);
        return buffer;
    }

    private static IReadOnlyList<byte[]> Seeds(AmtMessageType type, params byte[][] extra) => [.. CapturedMessages.AmtOfType(type).Take(8), .. extra];

    [Fact]
    public void Type_reader_survives_mutated_messages() =>
        Fuzz.Run("AmtMessage.TryReadType", CapturedMessages.Amt.Take(20).ToList(),
            (ReadOnlySpan<byte> input, out ParseError error) => AmtMessage.TryReadType(input, out _, out error));

    [Fact]
    public void Relay_discovery_reader_survives_mutated_messages() =>
        Fuzz.Run("AmtRelayDiscovery", Seeds(AmtMessageType.RelayDiscovery), (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!AmtRelayDiscovery.TryRead(input, out var m, out error))
            {
                return false;
            }
            Assert.True(AmtRelayDiscovery.TryRead(Bytes(m.Length, m.Write), out var again, out _));
            Assert.Equal(m, again);
            return true;
        });

    [Fact]
    public void Relay_advertisement_reader_survives_mutated_messages() =>
        Fuzz.Run("AmtRelayAdvertisement",
            Seeds(AmtMessageType.RelayAdvertisement, Bytes(24, new AmtRelayAdvertisement(9, IPAddress.Parse("2001:db8::7")).Write)),
            (ReadOnlySpan<byte> input, out ParseError error) =>
            {
                if (!AmtRelayAdvertisement.TryRead(input, out var m, out error))
                {
                    return false;
                }
                Assert.True(AmtRelayAdvertisement.TryRead(Bytes(m.Length, m.Write), out var again, out _));
                Assert.Equal(m, again);
                return true;
            });

    [Fact]
    public void Request_reader_survives_mutated_messages() =>
        Fuzz.Run("AmtRequest", Seeds(AmtMessageType.Request, Bytes(8, new AmtRequest(5, true).Write)), (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!AmtRequest.TryRead(input, out var m, out error))
            {
                return false;
            }
            Assert.True(AmtRequest.TryRead(Bytes(m.Length, m.Write), out var again, out _));
            Assert.Equal(m, again);
            return true;
        });

    [Fact]
    public void Membership_query_reader_survives_mutated_messages()
    {
        var captured = CapturedMessages.AmtOfType(AmtMessageType.MembershipQuery)[0];
        var withGateway = new AmtMembershipQuery(true, 0x123456789abc, 7, captured[12..], 40000, IPAddress.Parse("10.77.0.2"));
        var withV6Gateway = withGateway with { GatewayAddress = IPAddress.Parse("2001:db8::2") };
        Fuzz.Run("AmtMembershipQuery",
            Seeds(AmtMessageType.MembershipQuery, Bytes(withGateway.Length, withGateway.Write), Bytes(withV6Gateway.Length, withV6Gateway.Write)),
            (ReadOnlySpan<byte> input, out ParseError error) =>
            {
                if (!AmtMembershipQuery.TryRead(input, out var m, out error))
                {
                    return false;
                }
                Assert.True(AmtMembershipQuery.TryRead(Bytes(m.Length, m.Write), out var again, out _));
                Assert.Equal((m.LimitedCapacity, m.ResponseMac, m.Nonce, m.GatewayPort, m.GatewayAddress),
                    (again.LimitedCapacity, again.ResponseMac, again.Nonce, again.GatewayPort, again.GatewayAddress));
                Assert.True(m.EncapsulatedQuery.Span.SequenceEqual(again.EncapsulatedQuery.Span));
                return true;
            });
    }

    [Fact]
    public void Membership_update_reader_survives_mutated_messages() =>
        Fuzz.Run("AmtMembershipUpdate", Seeds(AmtMessageType.MembershipUpdate), (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!AmtMembershipUpdate.TryRead(input, out var m, out error))
            {
                return false;
            }
            Assert.True(Bytes(m.Length, m.Write).AsSpan(2).SequenceEqual(input[2..]));
            return true;
        });

    [Fact]
    public void Teardown_reader_survives_mutated_messages()
    {
        byte[] v4 = Bytes(30, new AmtTeardown(0xa4c39089f2a1, 0x3acfeabe, 41000, IPAddress.Parse("10.77.0.2")).Write);
        byte[] v6 = Bytes(30, new AmtTeardown(1, 2, 3, IPAddress.Parse("2001:db8::2")).Write);
        Fuzz.Run("AmtTeardown", [v4, v6], (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!AmtTeardown.TryRead(input, out var m, out error))
            {
                return false;
            }
            Assert.True(AmtTeardown.TryRead(Bytes(m.Length, m.Write), out var again, out _));
            Assert.Equal(m, again);
            return true;
        });
    }

    [Fact]
    public void Multicast_data_reader_survives_mutated_messages() =>
        Fuzz.Run("AmtMulticastData", Seeds(AmtMessageType.MulticastData), (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!AmtMulticastData.TryRead(input, out error))
            {
                return false;
            }
            Assert.True(input.Length >= AmtMulticastData.HeaderLength + AmtMulticastData.MinDatagramLength);
            return true;
        });
}
