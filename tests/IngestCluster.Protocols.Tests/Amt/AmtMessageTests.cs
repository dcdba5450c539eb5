using System.Net;
using IngestCluster.Protocols.Amt;

namespace IngestCluster.Protocols.Tests.Amt;

public class AmtMessageTests
{
    private static byte[] WriteAll(Func<Span<byte>, int> write, int length)
    {
        var buffer = Hex.Filled(length + 8);
        int written = write(buffer);
        Assert.Equal(length, written);
        Assert.All(buffer[length..], b => Assert.Equal(0xff, b));
        return buffer[..length];
    }

    [Fact]
    public void Relay_discovery_is_type_1_with_zero_reserved_bytes_and_the_nonce()
    {
        var message = new AmtRelayDiscovery(0x4c18fdf2);
        var bytes = WriteAll(message.Write, message.Length);
        Assert.Equal("010000004c18fdf2", Hex.Of(bytes));
        Assert.True(AmtRelayDiscovery.TryRead(bytes, out var read, out var error), error.ToString());
        Assert.Equal(message, read);
    }

    [Fact]
    public void Relay_advertisement_carries_an_ipv4_or_an_ipv6_relay_address()
    {
        var v4 = new AmtRelayAdvertisement(0x4c18fdf2, IPAddress.Parse("10.77.0.1"));
        var bytes = WriteAll(v4.Write, 12);
        Assert.Equal("020000004c18fdf20a4d0001", Hex.Of(bytes));
        Assert.True(AmtRelayAdvertisement.TryRead(bytes, out var read, out _));
        Assert.Equal(v4, read);

        var v6 = new AmtRelayAdvertisement(7, IPAddress.Parse("2001:db8::1"));
        bytes = WriteAll(v6.Write, 24);
        Assert.True(AmtRelayAdvertisement.TryRead(bytes, out read, out _));
        Assert.Equal(v6, read);
    }

    [Fact]
    public void Relay_advertisement_with_a_relay_address_of_neither_4_nor_16_bytes_is_rejected()
    {
        var bytes = Hex.Parse("020000004c18fdf20a4d000101");
        Assert.False(AmtRelayAdvertisement.TryRead(bytes, out _, out var error));
        Assert.Equal(ParseFailure.LengthMismatch, error.Kind);
    }

    [Fact]
    public void Request_P_flag_is_the_low_bit_of_byte_1()
    {
        var bytes = WriteAll(new AmtRequest(0x9aaad92a, MldRequested: true).Write, 8);
        Assert.Equal("030100009aaad92a", Hex.Of(bytes));
        Assert.True(AmtRequest.TryRead(Hex.Parse("038000009aaad92a"), out var request, out _));
        Assert.False(request.MldRequested); // 0x80 is the Linux kernel's position, not the RFC's
        Assert.True(AmtRequest.TryRead(bytes, out request, out _));
        Assert.True(request.MldRequested);
    }

    [Fact]
    public void Membership_query_L_and_G_flags_and_gateway_fields_round_trip()
    {
        var inner = new byte[32];
        inner[0] = 0x45;
        var query = new AmtMembershipQuery(true, 0x11a0c6da5c6a, 0x9aaad92a, inner, 40000, IPAddress.Parse("192.0.2.7"));
        var bytes = WriteAll(query.Write, query.Length);
        Assert.Equal(12 + 32 + 18, bytes.Length);
        Assert.Equal(0x03, bytes[1]);
        Assert.Equal("9c40" + "000000000000000000000000c0000207", Hex.Of(bytes[^18..]));
        Assert.True(AmtMembershipQuery.TryRead(bytes, out var read, out var error), error.ToString());
        Assert.True(read.LimitedCapacity);
        Assert.Equal(0x11a0c6da5c6aUL, read.ResponseMac);
        Assert.Equal(0x9aaad92au, read.Nonce);
        Assert.Equal(inner, read.EncapsulatedQuery.ToArray());
        Assert.Equal((ushort)40000, read.GatewayPort);
        Assert.Equal(IPAddress.Parse("192.0.2.7"), read.GatewayAddress);
    }

    [Fact]
    public void Membership_query_writer_rejects_a_port_without_an_address()
    {
        var query = new AmtMembershipQuery(false, 1, 2, new byte[20], 40000, null);
        Assert.Throws<ArgumentException>(() => query.Write(new byte[100]));
    }

    [Fact]
    public void Teardown_writes_an_ipv4_gateway_as_12_zero_bytes_and_the_address()
    {
        var teardown = new AmtTeardown(0x0000a4c39089f2a1 & 0xFFFFFFFFFFFF, 0x3acfeabe, 2268, IPAddress.Parse("10.77.0.2"));
        var bytes = WriteAll(teardown.Write, 30);
        Assert.Equal("0700a4c39089f2a13acfeabe08dc0000000000000000000000000a4d0002", Hex.Of(bytes));
        Assert.True(AmtTeardown.TryRead(bytes, out var read, out _));
        Assert.Equal(teardown, read);
    }

    [Fact]
    public void Mac_wider_than_48_bits_is_caller_misuse()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AmtTeardown(1UL << 48, 0, 1, IPAddress.Loopback).Write(new byte[30]));
    }

    [Fact]
    public void Multicast_data_is_a_two_byte_header_before_the_datagram()
    {
        var datagram = Hex.Parse("45000023844c40000811fb2b0a4e0002e8010101c5a61389000f0000706b7430303031");
        var bytes = WriteAll(d => AmtMulticastData.Write(d, datagram), datagram.Length + 2);
        Assert.Equal("0600", Hex.Of(bytes[..2]));
        Assert.True(AmtMulticastData.TryRead(bytes, out var error), error.ToString());
        Assert.False(AmtMulticastData.TryRead(bytes.AsSpan(0, 21), out error));
        Assert.Equal(ParseFailure.Truncated, error.Kind);
    }

    [Theory]
    [InlineData("", ParseFailure.Truncated)]
    [InlineData("16", ParseFailure.BadVersion)]
    [InlineData("08", ParseFailure.Unsupported)]
    [InlineData("00", ParseFailure.Unsupported)]
    public void Type_byte_with_a_bad_version_or_type_is_rejected(string hex, ParseFailure kind)
    {
        Assert.False(AmtMessage.TryReadType(Hex.Parse(hex), out _, out var error));
        Assert.Equal(kind, error.Kind);
    }

    [Fact]
    public void Reading_one_type_as_another_is_rejected_at_offset_0()
    {
        Assert.False(AmtRequest.TryRead(Hex.Parse("010000004c18fdf2"), out _, out var error));
        Assert.Equal(ParseFailure.BadValue, error.Kind);
        Assert.Equal(0, error.Offset);
    }
}
